"""Errors as RFC 9457 ``application/problem+json``, in the requester's language.

Every refusal the API gives passes through here: engine errors, validation
errors, missing routes, sign-in and permission refusals, database conflicts.
A database that cannot be reached or is busy (a cut or refused connection, an
exhausted pool, a locked SQLite file) is a 503 with ``Retry-After``; page routes answer
it as an HTML page (``PageRoute``). Anything unexpected becomes a 500 problem and is logged; tests
treat that as a bug.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.messages import field_label, field_message, problem_text
from chefoskop.i18n import SUPPORTED_LOCALES, normalise_locale
from flows.errors import EngineError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:chefoskop:problem:"

PYDANTIC_REASONS: dict[str, str] = {
    "missing": "required", "string_too_long": "too_long", "too_long": "too_long",
    "too_short": "too_short", "int_parsing": "not_an_integer", "int_type": "not_an_integer",
    "int_from_float": "not_an_integer", "float_parsing": "not_a_number",
    "float_type": "not_a_number", "finite_number": "not_a_number", "date_parsing": "not_a_date",
    "date_type": "not_a_date", "date_from_datetime_parsing": "not_a_date",
    "date_from_datetime_inexact": "not_a_date", "datetime_parsing": "not_a_datetime",
    "datetime_type": "not_a_datetime", "datetime_from_date_parsing": "not_a_datetime",
    "timezone_aware": "not_a_datetime", "string_type": "not_text", "bool_parsing": "not_a_boolean",
    "bool_type": "not_a_boolean", "list_type": "not_a_list", "dict_type": "not_an_object",
    "model_type": "not_an_object", "model_attributes_type": "not_an_object",
    "literal_error": "not_allowed", "enum": "not_allowed", "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range", "less_than": "out_of_range",
    "less_than_equal": "out_of_range", "extra_forbidden": "unknown_field",
    "json_invalid": "invalid_json", "json_type": "invalid_json",
}
PASS_THROUGH = {"required", "invalid_character", "too_large", "too_long", "not_a_number"}


@dataclass
class Issue:
    """One field's problem before it is put into words."""

    field: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    row: int | None = None
    column: str | None = None
    sheet: str | None = None
    message: str | None = None  # already in the reader's words (a check that explains itself)


class ApiProblem(Exception):
    """A refusal raised by the API layer itself."""

    def __init__(self, status: int, code: str, *, issues: Iterable[Issue] = (),
                 params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.issues = list(issues)
        self.params = dict(params or {})
        self.headers = dict(headers or {})


def not_found() -> ApiProblem:
    """The one answer for missing objects and objects the viewer may not see."""
    return ApiProblem(404, "not_found")


def forbidden() -> ApiProblem:
    """The answer for visible objects the viewer may not change."""
    return ApiProblem(403, "forbidden")


def invalid(field_name: str, reason: str, **params: Any) -> ApiProblem:
    """A 422 naming one field."""
    return ApiProblem(422, "invalid_data", issues=[Issue(field_name, reason, params)])


def accepted_language(header: str | None) -> str | None:
    """The supported language ('sv' or 'en') an Accept-Language header prefers, if it names one."""
    best, best_q = None, 0.0
    for part in (header or "").split(",")[:20]:
        tag, _, q = part.strip().partition(";q=")
        lang = tag.strip().lower().replace("_", "-").split("-", 1)[0]
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if lang in SUPPORTED_LOCALES and weight > best_q:
            best, best_q = lang, weight
    return best


def request_locale(request: Request) -> str:
    """The language the request asks for (Accept-Language), else the person's, else Swedish."""
    asked = accepted_language(request.headers.get("accept-language"))
    if asked is not None:
        return asked
    return normalise_locale(getattr(request.state, "locale", None))


def _safe_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items()
            if k != "errors" and isinstance(v, str | int | float | bool | type(None))}


def _error_entry(locale: str, issue: Issue) -> dict[str, Any]:
    label = issue.label or field_label(locale, issue.field)
    entry = {"field": issue.field, "reason": issue.reason,
             "message": issue.message or field_message(locale, label, issue.reason, **issue.params)}
    for key in ("row", "column", "sheet"):
        if getattr(issue, key) is not None:
            entry[key] = getattr(issue, key)
    return entry


def problem_response(request: Request, status: int, code: str, *, issues: Iterable[Issue] = (),
                     params: Mapping[str, Any] | None = None,
                     headers: Mapping[str, str] | None = None) -> JSONResponse:
    """Build the problem+json response for ``code`` in the requester's language."""
    locale = request_locale(request)
    params = dict(params or {})
    title, detail = problem_text(locale, code, **params)
    body = {"type": TYPE_PREFIX + code.replace("_", "-"), "title": title, "status": status,
            "detail": detail, "instance": request.url.path, "code": code,
            "errors": [_error_entry(locale, i) for i in issues], "params": _safe_params(params)}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


def engine_issues(exc: EngineError) -> list[Issue]:
    """The per-field issues an engine error carries."""
    if exc.code == "unknown_role":
        return [Issue("role", "unknown_role")]
    issues = []
    for name, reason in (exc.params.get("errors") or {}).items():
        if name == "reviews" and isinstance(reason, str) and reason.startswith("missing:"):
            issues.append(Issue(name, "missing_reviews", {"actions": reason.split(":", 1)[1]}))
        elif isinstance(reason, str) and reason.startswith("missing:"):
            issues.append(Issue(name, "missing_roles", {"roles": reason.split(":", 1)[1]}))
        else:
            issues.append(Issue(str(name), str(reason)))
    return issues


def _loc_field(loc: tuple) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header",
                                                            "cookie") else [str(p) for p in loc]
    if loc and loc[0] == "body" and len(loc) == 2 and isinstance(loc[1], int):
        parts = []  # a JSON decode error: the position is no field
    return ".".join(parts) or "body"


def _pydantic_reason(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind in PASS_THROUGH:
        return kind
    if kind == "string_too_short":
        return "required" if (error.get("ctx") or {}).get("min_length") == 1 else "too_short"
    if kind == "value_error" and "email" in str(error.get("msg", "")).lower():
        return "invalid_email"
    return PYDANTIC_REASONS.get(kind, "invalid")


def validation_issues(errors: Iterable[Mapping[str, Any]]) -> list[Issue]:
    """FastAPI/pydantic validation errors as field issues (one per field and reason)."""
    seen: dict[tuple[str, str], Issue] = {}
    for error in errors:
        issue = Issue(_loc_field(tuple(error.get("loc", ()))), _pydantic_reason(error))
        seen.setdefault((issue.field, issue.reason), issue)
    return list(seen.values())


async def _on_api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
    return problem_response(request, exc.status, exc.code, issues=exc.issues, params=exc.params,
                            headers=exc.headers)


async def _on_engine_error(request: Request, exc: EngineError) -> JSONResponse:
    return problem_response(request, exc.status, exc.code, issues=engine_issues(exc),
                            params=exc.params)


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    return problem_response(request, 422, "validation", issues=validation_issues(exc.errors()))


HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code if 400 <= exc.status_code < 600 else 400
    code = HTTP_CODES.get(status, "bad_request" if status < 500 else "server_error")
    return problem_response(request, status, code, headers=getattr(exc, "headers", None))


async def _on_integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    log.info("integrity conflict on %s: %s", request.url.path, exc.orig)
    return problem_response(request, 409, "conflict")


async def _on_stale(request: Request, exc: StaleDataError) -> JSONResponse:
    return problem_response(request, 409, "stale_version")


async def _on_data_error(request: Request, exc: DataError) -> JSONResponse:
    log.info("data error on %s: %s", request.url.path, exc.orig)
    return problem_response(request, 422, "invalid_data")


# SQLite's OperationalError also covers mistakes in SQL ("no such table"); only these
# mean the file is busy or out of reach for now.
SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database is busy",
                    "disk i/o error", "unable to open database file")


def _psycopg_operational() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return ()
    return (psycopg.OperationalError,)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is unreachable or busy for now, so a retry may work.

    True for a connection that was cut or refused (SQLAlchemy marks it
    ``connection_invalidated``), any PostgreSQL OperationalError (server shutting
    down, connection refused, lock or statement timeout, serialization failure),
    a pool with no connection to give in time, and a locked or unreadable SQLite
    file. Programming mistakes that SQLite also reports as OperationalError are not.
    """
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc.orig, sqlite3.Error):
            text = str(exc.orig).lower()
            return isinstance(exc.orig, sqlite3.OperationalError) and any(
                marker in text for marker in SQLITE_TRANSIENT)
        return isinstance(exc, OperationalError)
    return isinstance(exc, _psycopg_operational())


def retry_after_seconds(request: Request) -> int:
    """Seconds a client should wait before retrying while the database is unavailable."""
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "db_retry_after_seconds", 2)


def unavailable_headers(request: Request, exc: BaseException) -> dict[str, str]:
    """Log a database outage met by ``request``; the headers of its 503 (``Retry-After``)."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                getattr(exc, "orig", None) or exc)
    return {"Retry-After": str(retry_after_seconds(request))}


async def _on_database_error(request: Request, exc: Exception):
    if not database_unavailable(exc):
        return await _on_unexpected(request, exc)
    # (Page routes answer theirs as an HTML page: ``api.pages.render.PageRoute``.)
    return problem_response(request, 503, "service_unavailable",
                            headers=unavailable_headers(request, exc))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "server_error")


def install_problem_handlers(app: FastAPI) -> None:
    """Register every exception handler of the API on ``app``."""
    app.add_exception_handler(ApiProblem, _on_api_problem)
    app.add_exception_handler(EngineError, _on_engine_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(StaleDataError, _on_stale)
    app.add_exception_handler(DataError, _on_data_error)
    for unavailable in (DBAPIError, PoolTimeout, *_psycopg_operational()):
        app.add_exception_handler(unavailable, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)
