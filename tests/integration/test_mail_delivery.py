"""Delivery against a real SMTP server on 127.0.0.1: exactly once, retries, refusals, digests."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from chefoskop.settings import Settings
from chefoskop_cli.mail import mail_app
from models import Organisation, OutboxMessage, OutboxStatus, Person, utcnow
from notifications import sink as sink_module
from notifications.digest import build_digests
from notifications.outbox import enqueue
from notifications.sender import claim_batch, deliver_all, deliver_due, retry_dead
from notifications.sink import (
    MailSink,
    ensure_sink,
    free_port,
    list_messages,
    parse_message,
    read_message,
)

Factory = sessionmaker[Session]


class RecordingHandler:
    """Accepts mail and remembers it; can refuse chosen addresses or stall on a MAIL."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.peers: set[tuple[str, int]] = set()
        self.refuse: dict[str, str] = {}
        self.on_mail: Callable[[], Awaitable[None]] | None = None
        self._lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        if self.on_mail is not None:
            await self.on_mail()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = parse_message(envelope.original_content)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.peers.add(session.peer)
        return "250 Message accepted"

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(str(m["Message-ID"]) for m in self.messages)


class SmtpServer:
    """A real aiosmtpd server on a free local port that can be stopped and started again."""

    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      ready_timeout=10, enable_SMTPUTF8=True)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(smtp_server: SmtpServer, tmp_path: Path) -> Settings:
    return Settings(
        smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_security="none",
        smtp_timeout_seconds=3, send_backoff_seconds=30, send_max_attempts=3,
        send_batch_size=200, data_dir=tmp_path, base_url="https://chefoskop.example",
    )


def make_people(
    factory: Factory, count: int, *, digest: bool = False, prefix: str = "p"
) -> list[Person]:
    with factory() as session, session.begin():
        org = session.scalar(select(Organisation).where(Organisation.slug == "vs"))
        if org is None:
            org = Organisation(name="Västra Söderbottens kommun", slug="vs")
            session.add(org)
            session.flush()
        people = [Person(organisation_id=org.id, name=f"Person {prefix}{i}",
                         email=f"{prefix}{i}@vs.example", digest=digest) for i in range(count)]
        session.add_all(people)
    return people


def task_payload(number: int) -> dict[str, Any]:
    return {
        "process_id": None, "process_name": "Chefoskopet 2027",
        "organisation_name": "Västra Söderbottens kommun", "task_id": number,
        "task_route_version": 1, "task_title": {"sv": f"Uppgift {number}", "en": f"Task {number}"},
        "step_number": 4, "step_title": {"sv": "Krav och resurser", "en": "Demands and resources"},
        "due_date": "2027-03-19", "reopen_reason": None,
    }


def queue(factory: Factory, people: list[Person], count: int, **payload: Any) -> list[int]:
    with factory() as session, session.begin():
        rows = []
        for number in range(count):
            person = session.merge(people[number % len(people)], load=False)
            row = enqueue(session, kind="task_assigned", recipient=person,
                          payload={**task_payload(number), **payload})
            rows.append(row)
        session.flush()
        return [row.id for row in rows if row is not None]


def statuses(factory: Factory) -> Counter[str]:
    with factory() as session:
        return Counter(dict(session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()))


def queued_message_ids(factory: Factory) -> set[str]:
    with factory() as session:
        return set(session.scalars(select(OutboxMessage.message_id)))


async def test_burst_arrives_exactly_once_over_one_connection(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    queue(session_factory, make_people(session_factory, 5), 500)
    report = await deliver_all(session_factory, settings)
    assert (report.sent, report.failed, report.retried, report.dead) == (500, 0, 0, 0)
    counts = smtp_server.handler.counts()
    assert set(counts) == queued_message_ids(session_factory)
    assert set(counts.values()) == {1}
    assert len(smtp_server.handler.peers) == 1
    assert statuses(session_factory) == {OutboxStatus.SENT: 500}


async def test_two_senders_never_send_the_same_row(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    queue(session_factory, make_people(session_factory, 3), 300)
    small = settings.model_copy(update={"send_batch_size": 40})
    first, second = await asyncio.gather(deliver_all(session_factory, small),
                                         deliver_all(session_factory, small))
    assert first.sent + second.sent == 300
    assert first.sent > 0 and second.sent > 0
    assert set(smtp_server.handler.counts().values()) == {1}
    assert len(smtp_server.handler.counts()) == 300


async def test_headers_and_parts_of_a_delivered_mail(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    queue(session_factory, make_people(session_factory, 1), 1)
    await deliver_all(session_factory, settings)
    (message,) = smtp_server.handler.messages
    assert message["Message-ID"] in queued_message_ids(session_factory)
    assert message["From"] == settings.mail_from
    assert message["To"] == "Person p0 <p0@vs.example>"
    assert message["Subject"] == "Ny uppgift: Uppgift 0"
    assert message["Date"] and message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert "https://chefoskop.example/t/" in message.get_body(("plain",)).get_content()


async def test_an_address_beyond_ascii_is_delivered_over_smtputf8(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    """Swedish letters in an address (RFC 6531) take the EmailMessage build and SMTPUTF8."""
    (person,) = make_people(session_factory, 1)
    with session_factory() as session, session.begin():
        person = session.get(Person, person.id)
        person.email = "åsa.öberg@söderbotten.example"
    queue(session_factory, [person], 1)
    report = await deliver_all(session_factory, settings)
    assert (report.sent, report.failed, report.dead) == (1, 0, 0)
    (message,) = smtp_server.handler.messages
    assert message["To"].addresses[0].addr_spec == "åsa.öberg@söderbotten.example"
    assert message["Subject"] == "Ny uppgift: Uppgift 0"


async def test_server_stopping_mid_burst_loses_and_repeats_nothing(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    queue(session_factory, make_people(session_factory, 4), 300)
    batches = settings.model_copy(update={"send_batch_size": 100})
    stopper: list[threading.Thread] = []
    seen = 0

    async def stop_at_the_151st_mail() -> None:
        nonlocal seen
        seen += 1
        if seen == 151:  # the server goes down while the client waits for an answer
            stopper.append(threading.Thread(target=smtp_server.stop))
            stopper[0].start()
            await asyncio.sleep(30)

    smtp_server.handler.on_mail = stop_at_the_151st_mail
    first = await deliver_all(session_factory, batches)
    assert (first.sent, first.retried, first.failed, first.dead) == (150, 150, 0, 0)
    stopper[0].join()

    smtp_server.handler.on_mail = None
    smtp_server.start()
    second = await deliver_all(session_factory, batches, now=utcnow() + timedelta(minutes=5))
    assert second.sent == 150
    counts = smtp_server.handler.counts()
    assert set(counts) == queued_message_ids(session_factory)
    assert set(counts.values()) == {1}
    assert statuses(session_factory) == {OutboxStatus.SENT: 300}


async def test_refused_recipient_fails_alone(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    reason = "550 5.1.1 <p1@vs.example>: Recipient address rejected"
    smtp_server.handler.refuse["p1@vs.example"] = reason
    queue(session_factory, make_people(session_factory, 3), 6)
    report = await deliver_all(session_factory, settings)
    assert (report.sent, report.failed, report.retried, report.dead) == (4, 2, 0, 0)
    with session_factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    for row in rows:
        if row.recipient_email == "p1@vs.example":
            assert (row.status, row.last_error, row.sent_at) == (OutboxStatus.FAILED, reason, None)
        else:
            assert row.status == OutboxStatus.SENT and row.sent_at is not None
    assert len(smtp_server.handler.peers) == 1  # a refusal does not cost the connection


async def test_temporary_refusals_back_off_then_die_and_an_admin_can_retry(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    smtp_server.handler.refuse["p0@vs.example"] = "451 4.3.0 Mailbox busy, try later"
    (busy, _) = queue(session_factory, make_people(session_factory, 2), 2)
    t0 = utcnow()

    def row() -> OutboxMessage:
        with session_factory() as session:
            found = session.get(OutboxMessage, busy)
            assert found is not None
            return found

    first = await deliver_due(session_factory, settings, now=t0)
    assert (first.sent, first.retried) == (1, 1)
    assert (row().attempts, row().next_attempt_at) == (1, t0 + timedelta(seconds=30))
    assert "451 4.3.0" in (row().last_error or "")
    assert (await deliver_due(session_factory, settings, now=t0 + timedelta(seconds=29))).total == 0
    t1 = t0 + timedelta(seconds=31)
    assert (await deliver_due(session_factory, settings, now=t1)).retried == 1
    assert (row().attempts, row().next_attempt_at) == (2, t1 + timedelta(seconds=60))
    last = await deliver_due(session_factory, settings, now=t1 + timedelta(seconds=61))
    assert last.dead == 1
    assert (row().status, row().attempts) == (OutboxStatus.DEAD, 3)

    with session_factory() as session, session.begin():
        assert retry_dead(session) == 1
    assert (row().status, row().attempts, row().last_error) == (OutboxStatus.PENDING, 0, None)
    smtp_server.handler.refuse.clear()
    assert (await deliver_all(session_factory, settings)).sent == 1
    assert set(smtp_server.handler.counts().values()) == {1}
    assert statuses(session_factory) == {OutboxStatus.SENT: 2}


async def test_unreachable_server_counts_as_an_attempt_for_the_batch(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    queue(session_factory, make_people(session_factory, 2), 4)
    smtp_server.stop()
    fast = settings.model_copy(update={"send_backoff_seconds": 0})
    report = await deliver_all(session_factory, fast)  # retries at once until it gives up
    assert (report.sent, report.retried, report.dead) == (0, 8, 4)
    with session_factory() as session:
        errors = set(session.scalars(select(OutboxMessage.last_error)))
    assert all("Connect" in (error or "") for error in errors), errors


async def test_a_broken_payload_is_dead_at_once_and_blocks_nothing(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = make_people(session_factory, 1)
    queue(session_factory, people, 2)
    with session_factory() as session, session.begin():
        enqueue(session, kind="step_opened", recipient=session.merge(people[0], load=False),
                payload={"process_name": "Chefoskopet"})
    report = await deliver_all(session_factory, settings)
    assert (report.sent, report.dead) == (2, 1)
    with session_factory() as session:
        dead = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD)
        ).one()
    assert dead.kind == "step_opened" and dead.last_error.startswith("template error:")
    assert any(r.levelname == "ERROR" and "cannot be rendered" in r.message for r in caplog.records)


def test_leased_rows_are_not_claimed_again_until_the_lease_runs_out(
    session_factory: Factory,
) -> None:
    queue(session_factory, make_people(session_factory, 1), 5)
    now = utcnow()
    first = claim_batch(session_factory, now=now, limit=3, lease_seconds=60)
    second = claim_batch(session_factory, now=now, limit=10, lease_seconds=60)
    assert (len(first), len(second)) == (3, 2)
    assert not {r.id for r in first} & {r.id for r in second}
    assert claim_batch(session_factory, now=now + timedelta(seconds=59), limit=10,
                       lease_seconds=60) == []
    later = claim_batch(session_factory, now=now + timedelta(seconds=61), limit=10,
                        lease_seconds=60)
    assert len(later) == 5


async def test_digest_builds_one_mail_per_recipient_per_day(
    session_factory: Factory, smtp_server: SmtpServer, settings: Settings
) -> None:
    daily = make_people(session_factory, 2, digest=True, prefix="d")
    direct = make_people(session_factory, 1, prefix="n")
    queue(session_factory, [daily[0]], 3)
    queue(session_factory, [daily[1]], 2)
    queue(session_factory, direct, 1)
    assert statuses(session_factory) == {OutboxStatus.HELD: 5, OutboxStatus.PENDING: 1}
    today = utcnow()
    for expected in (2, 0):  # a second run the same day changes nothing
        with session_factory() as session, session.begin():
            assert build_digests(session, today) == expected
    assert statuses(session_factory) == {OutboxStatus.DIGESTED: 5, OutboxStatus.PENDING: 3}

    queue(session_factory, [daily[0]], 1)  # arrives after today's digest went out
    with session_factory() as session, session.begin():
        assert build_digests(session, today) == 0
    with session_factory() as session, session.begin():
        assert build_digests(session, today + timedelta(days=1)) == 1

    report = await deliver_all(session_factory, settings, now=today + timedelta(days=1))
    assert report.sent == 4
    by_recipient: dict[str, list[str]] = {}
    for message in smtp_server.handler.messages:
        address = message["To"].addresses[0].addr_spec
        by_recipient.setdefault(address, []).append(message["Subject"])
    assert sorted(by_recipient["d0@vs.example"]) == [
        "Du har 1 ny uppgift", "Du har 3 nya uppgifter"
    ]
    assert by_recipient["d1@vs.example"] == ["Du har 2 nya uppgifter"]
    assert by_recipient["n0@vs.example"] == ["Ny uppgift: Uppgift 0"]
    digest = next(m for m in smtp_server.handler.messages
                  if m["Subject"].endswith("3 nya uppgifter"))
    text = digest.get_body(("plain",)).get_content()
    assert all(f"Uppgift {n}" in text for n in range(3))


async def test_sink_keeps_mail_for_the_cli(session_factory: Factory, tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    people = make_people(session_factory, 1)
    queue(session_factory, people, 1)
    with session_factory() as session, session.begin():
        enqueue(session, kind="meeting_invite", recipient=session.merge(people[0], load=False),
                payload=_meeting())
    with MailSink(maildir) as sink:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=sink.port, data_dir=tmp_path)
        assert (await deliver_all(session_factory, settings)).sent == 2

    stored = list_messages(maildir)
    assert {m.subject for m in stored} == {"Ny uppgift: Uppgift 0", "Inbjudan: Dela värld"}
    assert {m.message_id for m in stored} == queued_message_ids(session_factory)
    invite = read_message(maildir, next(m.id for m in stored if m.subject.startswith("Inbjudan")))
    calendar = [p for p in invite.walk() if p.get_content_type() == "text/calendar"]
    assert calendar and calendar[0].get_param("method") == "REQUEST"
    assert "METHOD:REQUEST" in calendar[0].get_content()
    assert "SUMMARY:Dela värld" in calendar[0].get_content()

    runner = CliRunner()
    listed = runner.invoke(mail_app, ["list", "--maildir", str(maildir)])
    assert listed.exit_code == 0, listed.output
    assert "Ämne" in listed.output and "Inbjudan: Dela värld" in listed.output
    shown = runner.invoke(mail_app, ["show", "1", "--maildir", str(maildir)])
    assert shown.exit_code == 0 and "Hej Person p0!" in shown.output
    missing = runner.invoke(mail_app, ["show", "nope", "--maildir", str(maildir)])
    assert missing.exit_code == 1


async def test_ensure_sink_starts_one_local_sink_when_no_relay_is_set(
    session_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = Settings(smtp_host="mail.example", smtp_port=587)
    assert ensure_sink(relay) == ("mail.example", 587)
    monkeypatch.setattr(sink_module, "_running", None)
    local = Settings(smtp_host=None, sink_port=0, data_dir=tmp_path)
    try:
        host, port = ensure_sink(local)
        assert host == "127.0.0.1" and port > 0
        assert ensure_sink(local) == (host, port)
        queue(session_factory, make_people(session_factory, 1), 1)
        assert (await deliver_all(session_factory, local)).sent == 1
        assert len(list_messages(tmp_path / "mail")) == 1
    finally:
        if sink_module._running is not None:
            sink_module._running.stop()


async def test_a_sink_is_shared_within_a_data_folder_and_never_across(
    session_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mail sent from one data folder never lands in another folder's sink, even when that
    sink holds the configured port; a sink of the same folder (another process's, found
    through the port it recorded) is reused."""
    monkeypatch.setattr(sink_module, "_running", None)
    port = free_port()
    (tmp_path / "other").mkdir()
    other = MailSink(tmp_path / "other" / "mail", port=port).start()  # another folder's sink
    mine = Settings(smtp_host=None, sink_port=port, data_dir=tmp_path / "mine")
    try:
        host, used = ensure_sink(mine)
        assert (host, used != port) == ("127.0.0.1", True)
        queue(session_factory, make_people(session_factory, 1), 1)
        assert (await deliver_all(session_factory, mine)).sent == 1
        assert len(list_messages(tmp_path / "mine" / "mail")) == 1
        assert list_messages(tmp_path / "other" / "mail") == []
        # A second process of the folder "mine" finds that sink through its record.
        running, sink_module._running = sink_module._running, None
        assert ensure_sink(mine) == ("127.0.0.1", used)
        sink_module._running = running
    finally:
        if sink_module._running is not None:
            sink_module._running.stop()
        other.stop()
    # The record goes with the sink; a record left by a killed process is not trusted.
    assert not (tmp_path / "mine" / "mail.sink").exists()
    (tmp_path / "other" / "mail.sink").write_text(f"999999999 {port}\n")
    assert sink_module._live_sink_port(tmp_path / "other" / "mail") is None


def _meeting() -> dict[str, Any]:
    return {
        "process_id": None, "process_name": "Chefoskopet 2027",
        "organisation_name": "Västra Söderbottens kommun", "uid": "m-1@chefoskop.local",
        "sequence": 0, "summary": {"sv": "Dela värld", "en": "Sharing the picture"},
        "start": "2027-04-08T09:00:00+02:00", "end": "2027-04-08T12:00:00+02:00",
        "location": "Stadshuset", "organizer_email": "pia@vs.example", "organizer_name": "Pia",
        "attendees": [{"name": "Person p0", "email": "p0@vs.example"}],
    }
