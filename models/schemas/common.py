"""Shared pieces of the API's schemas: ids, safe text, JSON documents, pages and problems."""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

MAX_ID = 2_147_483_647  # the largest INTEGER on PostgreSQL
MAX_JSON_DEPTH = 8
MAX_JSON_ITEMS = 2_000
MAX_JSON_STRING = 20_000

T = TypeVar("T")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("invalid_character", "the text contains a NUL character")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("required", "the text is empty")
    return value


def text(max_length: int, *, required: bool = True) -> Any:
    """A text field of at most ``max_length`` characters; ``required`` refuses blank text."""
    checks = [AfterValidator(_no_nul)] + ([AfterValidator(_not_blank)] if required else [])
    return Annotated[str, Field(max_length=max_length), *checks]


def _walk(value: Any, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_JSON_DEPTH:
        raise PydanticCustomError("too_large", "the document is too large or too deep")
    if isinstance(value, str):
        if len(value) > MAX_JSON_STRING:
            raise PydanticCustomError("too_long", "a text in the document is too long")
        _no_nul(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("not_a_number", "numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key, depth + 1, budget)
            _walk(item, depth + 1, budget)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1, budget)


def _check_document(value: dict[str, Any]) -> dict[str, Any]:
    _walk(value, 0, [MAX_JSON_ITEMS])
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=1, le=MAX_ID)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_check_document)]


class InModel(BaseModel):
    """A request body: unknown fields are refused so typing mistakes are named."""

    model_config = ConfigDict(extra="forbid")


class OutModel(BaseModel):
    """A response body, built from table rows or plain values."""

    model_config = ConfigDict(from_attributes=True)


class Page(OutModel, Generic[T]):
    """One page of a list: the items, the total matching, and the window asked for."""

    items: list[T]
    total: int
    limit: int
    offset: int


class FieldError(BaseModel):
    """One thing wrong with a request: which field, a stable reason code, and a message."""

    field: str
    reason: str
    message: str
    row: int | None = None
    column: str | None = None
    sheet: str | None = None


class Problem(BaseModel):
    """An error in the RFC 9457 ``application/problem+json`` shape."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    errors: list[FieldError] = []
    params: dict[str, Any] = {}


class Health(BaseModel):
    """The service answers."""

    status: str = "ok"
