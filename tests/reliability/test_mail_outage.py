"""Mail outages (issue #8) against a real SMTP server on 127.0.0.1: a burst while the server
is down, a slow server, a refusing one. The SMTP server, its fixtures (``smtp_server``,
``settings``: see conftest.py) and helpers are the delivery tests'."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from chefoskop.settings import Settings
from chefoskop_cli.mail import mail_app
from models import Organisation, OutboxMessage, OutboxStatus, Person, utcnow
from notifications.sender import deliver_all
from tests.integration.test_mail_delivery import (
    Factory,
    SmtpServer,
    make_people,
    queue,
    queued_message_ids,
    statuses,
)


def figures(name: str, **values: Any) -> None:
    """Print a suite's figures (``-s`` shows them)."""
    print(f"\n{name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


def assert_each_delivered_once(server: SmtpServer, factory: Factory, total: int) -> None:
    counts = server.handler.counts()
    assert set(counts) == queued_message_ids(factory) and len(counts) == total
    assert set(counts.values()) == {1}, Counter(counts.values())
    assert statuses(factory) == {OutboxStatus.SENT: total}


async def test_burst_during_an_outage_is_delivered_exactly_once_after_recovery(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    patient = settings.model_copy(update={"send_max_attempts": 6})
    people = make_people(session_factory, 5)
    smtp_server.stop()
    queue(session_factory, people, 200)  # the burst starts while the server is down
    t0 = utcnow()
    first = await deliver_all(session_factory, patient, now=t0)
    assert (first.sent, first.retried, first.dead) == (0, 200, 0)
    queue(session_factory, people, 100)  # and goes on during the outage
    second = await deliver_all(session_factory, patient, now=t0 + timedelta(seconds=31))
    assert (second.sent, second.retried, second.dead) == (0, 300, 0)
    early = await deliver_all(session_factory, patient, now=t0 + timedelta(seconds=40))
    assert early.total == 0  # backing off: nothing is due yet

    smtp_server.start()
    started = utcnow()
    recovered = await deliver_all(session_factory, patient, now=t0 + timedelta(minutes=5))
    drained = (utcnow() - started).total_seconds()
    assert (recovered.sent, recovered.retried, recovered.failed, recovered.dead) == (300, 0, 0, 0)
    assert_each_delivered_once(smtp_server, session_factory, 300)
    with session_factory() as session:
        assert set(session.scalars(select(OutboxMessage.last_error))) == {None}
    figures("mail_outage_burst", queued=300, attempts_during_outage=first.retried + second.retried,
            delivered_after_recovery=recovered.sent, duplicates=0, lost=0, dead=0,
            drain_seconds=round(drained, 2))


async def test_slow_server_within_the_timeout_delivers_everything_once(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    async def slow() -> None:
        await asyncio.sleep(0.05)

    smtp_server.handler.on_mail = slow
    queue(session_factory, make_people(session_factory, 3), 30)
    started = utcnow()
    report = await deliver_all(session_factory, settings)
    elapsed = (utcnow() - started).total_seconds()
    assert (report.sent, report.retried, report.failed, report.dead) == (30, 0, 0, 0)
    assert_each_delivered_once(smtp_server, session_factory, 30)
    assert len(smtp_server.handler.peers) == 1
    figures("mail_slow_server", delay_per_mail_s=0.05, sent=report.sent, seconds=round(elapsed, 2))


async def test_server_slower_than_the_timeout_is_retried_and_delivers_once(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    impatient = settings.model_copy(update={"smtp_timeout_seconds": 0.5,
                                            "send_max_attempts": 6})
    stalls = 0

    async def stall_the_first_three() -> None:
        nonlocal stalls
        stalls += 1
        if stalls <= 3:  # longer than the client waits; before DATA, so nothing arrives
            await asyncio.sleep(1.5)

    smtp_server.handler.on_mail = stall_the_first_three
    queue(session_factory, make_people(session_factory, 2), 20)
    t0 = utcnow()
    first = await deliver_all(session_factory, impatient, now=t0)
    assert first.retried >= 1 and first.sent + first.retried == 20 and first.dead == 0
    with session_factory() as session:
        errors = set(session.scalars(select(OutboxMessage.last_error).where(
            OutboxMessage.status == OutboxStatus.PENDING)))
    assert errors and None not in errors, errors

    later = await deliver_all(session_factory, impatient, now=t0 + timedelta(minutes=10))
    assert later.sent == first.retried and later.dead == 0
    assert_each_delivered_once(smtp_server, session_factory, 20)
    figures("mail_server_slower_than_timeout", timeout_s=0.5, stalls=min(stalls, 3),
            sent_first_run=first.sent, retried=first.retried, sent_after=later.sent, duplicates=0)


def _admin_client(factory: Factory) -> tuple[Any, dict[str, str]]:
    """The API on the test database, and Bearer headers of an organisation admin of "vs"."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.security.tokens import mint_token
    from chefoskop.settings import get_settings
    from models import ApiToken

    with factory() as session, session.begin():
        org = session.scalar(select(Organisation).where(Organisation.slug == "vs"))
        admin = Person(organisation_id=org.id, name="Ada Admin", email="ada@vs.example",
                       is_org_admin=True)
        session.add(admin)
        session.flush()
        token, prefix, digest = mint_token()
        session.add(ApiToken(organisation_id=org.id, person_id=admin.id, name="test",
                             prefix=prefix, token_hash=digest, created_at=utcnow()))
    client = TestClient(create_app(get_settings()), base_url="https://testserver")
    return client, {"Authorization": f"Bearer {token}"}


async def test_refusing_server_leaves_dead_letters_visible_and_retryable(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    busy = "421 4.3.2 Service not available, try again later"
    smtp_server.handler.refuse = {f"p{i}@vs.example": busy for i in range(4)}
    quick = settings.model_copy(update={"send_backoff_seconds": 0, "send_max_attempts": 3})
    queue(session_factory, make_people(session_factory, 4), 12)
    report = await deliver_all(session_factory, quick)  # retried at once until given up
    assert (report.sent, report.dead) == (0, 12)
    assert statuses(session_factory) == {OutboxStatus.DEAD: 12}
    assert smtp_server.handler.messages == []

    client, headers = _admin_client(session_factory)
    with client:
        listed = client.get("/api/v1/outbox", headers=headers, params={"status": "dead"})
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert page["total"] == 12
        assert all(item["status"] == "dead" and "421" in (item.get("last_error") or "")
                   for item in page["items"]), page["items"][:2]
        first_ids = sorted(item["id"] for item in page["items"])[:6]
        retried = client.post("/api/v1/outbox/retry", headers=headers, json={"ids": first_ids})
        assert retried.status_code == 200 and retried.json() == {"retried": 6}

    # the server is back; p1 turns out to be an unknown user (a permanent refusal)
    smtp_server.handler.refuse = {"p1@vs.example": "550 5.1.1 <p1@vs.example>: no such user"}
    after_api = await deliver_all(session_factory, quick)
    assert after_api.sent + after_api.failed == 6 and after_api.dead == 0

    cli = CliRunner().invoke(mail_app, ["retry-dead"])  # the other six, from the command line
    assert cli.exit_code == 0, cli.output
    assert statuses(session_factory)[OutboxStatus.DEAD] == 0
    after_cli = await deliver_all(session_factory, quick)  # the CLI re-queued p1's refusals too
    assert after_cli.sent + after_cli.failed == 6 + after_api.failed and after_cli.dead == 0

    with session_factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    refused = {r.id for r in rows if r.recipient_email == "p1@vs.example"}
    assert {r.id for r in rows if r.status == OutboxStatus.FAILED} == refused
    assert all(r.status == OutboxStatus.SENT for r in rows if r.id not in refused)
    counts = smtp_server.handler.counts()
    assert len(counts) == 12 - len(refused) and set(counts.values()) == {1}
    figures("mail_refusing_server", dead_after_refusals=12, retried_via_api=6,
            retried_via_cli=cli.output.strip(), delivered=len(counts), refused_permanently=len(refused),
            duplicates=0)
