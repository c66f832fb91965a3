"""Idempotency-Key on POST: a retried request gets the first answer instead of acting twice.

The key is reserved (in its own, committed transaction, so a concurrent
duplicate sees it) before the handler runs; the response is stored in the same
transaction as the change it reports, so either both are kept or neither. The
same key with a different request is refused with 422; a duplicate arriving
while the first is still running gets 409. A failed request releases its key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from api.problems import ApiProblem
from models import IdempotencyRecord

HEADER = "Idempotency-Key"
ABANDONED_AFTER = timedelta(minutes=5)  # an in-progress key older than this lost its request


class IdempotentReplay(Exception):
    """Raised to answer a retry with the stored response."""

    def __init__(self, response: Response) -> None:
        super().__init__("replay")
        self.response = response


@dataclass(frozen=True)
class Reservation:
    """A key this request holds."""

    record_id: int


async def fingerprint(request: Request) -> str:
    """A hash of the request's method, path, query and body (form files included)."""
    digest = hashlib.sha256(f"{request.method} {request.url.path}?{request.url.query}\n".encode())
    if request.headers.get("content-type", "").startswith(
            ("multipart/form-data", "application/x-www-form-urlencoded")):
        for name, value in (await request.form()).multi_items():
            digest.update(name.encode() + b"\0")
            if isinstance(value, UploadFile):
                digest.update(hashlib.sha256(await value.read()).digest())
                await value.seek(0)
            else:
                digest.update(value.encode() + b"\0")
    else:
        digest.update(await request.body())
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    return Response(content=record.response_body or "", status_code=record.status_code or 200,
                    media_type=record.content_type, headers={"Idempotent-Replayed": "true"})


def _settle_existing(record: IdempotencyRecord, request_hash: str) -> None:
    if record.request_hash != request_hash:
        raise ApiProblem(422, "idempotency_mismatch")
    if record.state != "done":
        raise ApiProblem(409, "idempotency_in_progress")
    raise IdempotentReplay(_replay(record))


def _find(s: Session, person_id: int, key: str) -> IdempotencyRecord | None:
    return s.scalar(select(IdempotencyRecord).where(IdempotencyRecord.person_id == person_id,
                                                    IdempotencyRecord.key == key))


def reserve(factory: sessionmaker[Session], person_id: int, key: str, request_hash: str,
            now: datetime, keep: timedelta) -> Reservation:
    """Hold ``key`` for this request, or raise: replay, mismatch (422) or in progress (409)."""
    with factory() as s:
        record = _find(s, person_id, key)
        if record is not None and (record.created_at < now - keep or (
                record.state != "done" and record.created_at < now - ABANDONED_AFTER)):
            s.delete(record)
            s.flush()
            record = None
        if record is None:
            record = IdempotencyRecord(person_id=person_id, key=key, request_hash=request_hash,
                                       state="in_progress", created_at=now)
            s.add(record)
            try:
                s.commit()
                return Reservation(record.id)
            except IntegrityError:  # a concurrent request took the key a moment ago
                s.rollback()
                record = _find(s, person_id, key)
                if record is None:
                    raise ApiProblem(409, "idempotency_in_progress") from None
        _settle_existing(record, request_hash)
        raise AssertionError("unreachable")


def complete(db: Session, reservation: Reservation, response: Response, now: datetime) -> None:
    """Store the response with the request's own changes (the caller commits both)."""
    body = getattr(response, "body", b"") or b""
    db.execute(update(IdempotencyRecord).where(IdempotencyRecord.id == reservation.record_id).values(
        state="done", status_code=response.status_code,
        content_type=response.headers.get("content-type"),
        response_body=body.decode("utf-8", "replace"), completed_at=now))


def release(factory: sessionmaker[Session], reservation: Reservation) -> None:
    """Give the key back after a failed request, so a retry runs afresh."""
    with factory() as s, s.begin():
        s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == reservation.record_id))
