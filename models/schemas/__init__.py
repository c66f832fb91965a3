"""The pydantic schemas the API speaks, beside the tables they describe."""
