"""Contract fuzzing with Schemathesis: no request built from the OpenAPI document gets a 5xx.

One world serves every operation (a world per operation would be slow). Examples per
operation: CHEFOSKOP_FUZZ_EXAMPLES (default 10 in CI; raise it locally: 40 ran clean).
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from api.app import create_app
from chefoskop.settings import Settings

SCHEMA_CHECKS = [checks.status_code_conformance, checks.content_type_conformance,
                 checks.response_schema_conformance]
EXAMPLES = int(os.environ.get("CHEFOSKOP_FUZZ_EXAMPLES", "10"))
TRANSPORT_KEYS = {"method", "url", "headers", "params", "json", "data", "files", "cookies", "content"}

# Building the document touches no database; the requests go to the test app.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings(environment="test")))


def _bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def request_kwargs(case, headers: dict[str, str]) -> dict:
    """httpx arguments for a generated case (HTTP carries bytes: encode what was generated)."""
    kwargs = case.as_transport_kwargs(base_url="https://testserver", headers=headers)
    kwargs = {k: v for k, v in kwargs.items() if k in TRANSPORT_KEYS}
    kwargs["headers"] = {k: _bytes(v) for k, v in (kwargs.get("headers") or {}).items()}
    cookies = kwargs.pop("cookies", None) or {}
    if cookies:
        kwargs["headers"]["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()
    if "data" in kwargs and not isinstance(kwargs["data"], dict):
        kwargs["content"] = _bytes(kwargs.pop("data"))
    if isinstance(kwargs.get("files"), dict):
        kwargs["files"] = {k: v if isinstance(v, tuple) else ("f", _bytes(v))
                           for k, v in kwargs["files"].items()}
    return kwargs


def test_no_server_errors(client, world, record_property):
    headers = world.h("processledare")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    sent = [0]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = client.request(**request_kwargs(case, headers))
            sent[0] += 1
            assert response.status_code < 500, (case.method, case.path, response.text[:500])
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"
            # The answer matches the document: a documented status, media type and body shape.
            case.validate_response(response, checks=SCHEMA_CHECKS, headers=headers)

        check()
    record_property("schemathesis", f"{sent[0]} requests over {len(operations)} operations: "
                    "no server error, every answer as documented")
