"""Importing an organisation's structure from CSV files or an XLSX workbook.

``parse`` turns files into sheets of rows, ``validate`` checks every row
against the file and the database and lists every error, ``apply`` writes a
valid plan. The route imports nothing unless the whole upload is valid.
"""
