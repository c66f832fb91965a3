"""Scenario 4: notifications through our outbox and sender against plain aiosmtplib.

Both send to the same aiosmtpd sink running in its own process. The outbox
holds a realistic mix: the notifications of one walked process (every kind,
meeting invites with ICS), repeated to the wanted count. Ours leases, renders,
sends over one connection and writes each outcome; the baseline sends the same
messages (rendered beforehand, not timed) over one aiosmtplib connection.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import timedelta
from email.utils import parseaddr

import aiosmtplib
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import sessionmaker

from bench.common import Config, Sample, ScenarioResult, alternate, compare, median
from bench.database import BenchDatabase
from bench.walk import NOW, Walker
from chefoskop.settings import Settings
from models import OutboxMessage, OutboxStatus
from notifications.outbox import make_message_id
from notifications.sender import ClaimedRow, _prepare, deliver_all
from notifications.sink import free_port

OUTBOX = OutboxMessage.__table__
_COPIED = ("organisation_id", "process_id", "task_id", "kind", "recipient_id", "recipient_email",
           "locale", "payload")


class SinkProcess:
    """The aiosmtpd sink as a child process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(self.port)],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> None:
        """Terminate the child."""
        self.proc.terminate()
        self.proc.wait(timeout=10)


def fill_outbox(engine: Engine, count: int) -> None:
    """Walk one process for its notifications, then repeat them to ``count`` pending rows."""
    Walker(engine).run(1, 10)
    with engine.begin() as conn:
        sample = [dict(r._mapping) for r in conn.execute(select(*(OUTBOX.c[c] for c in _COPIED))
                                                         .order_by(OUTBOX.c.id))]
        conn.execute(OUTBOX.delete())
        rows = [{**sample[i % len(sample)], "message_id": make_message_id(), "created_at": NOW,
                 "next_attempt_at": NOW, "status": OutboxStatus.PENDING, "attempts": 0}
                for i in range(count)]
        for start in range(0, count, 1000):
            conn.execute(insert(OUTBOX), rows[start:start + 1000])


def reset(engine: Engine) -> None:
    """Every row pending again (not timed)."""
    with engine.begin() as conn:
        conn.execute(update(OUTBOX).values(status=OutboxStatus.PENDING, attempts=0, sent_at=None,
                                           locked_until=None, last_error=None, next_attempt_at=NOW))


def prepared(engine: Engine, settings: Settings) -> tuple[list, float]:
    """Every row rendered to its MIME message, and the seconds rendering took."""
    cols = ("id", "kind", "locale", "payload", "recipient_email", "recipient_id", "message_id",
            "attempts")
    with engine.connect() as conn:
        rows = [ClaimedRow(**dict(r._mapping)) for r in conn.execute(
            select(*(OUTBOX.c[c] for c in cols)).order_by(OUTBOX.c.id))]
    started = time.perf_counter()
    messages = [(_prepare(row, settings, NOW), row.recipient_email) for row in rows]
    return messages, time.perf_counter() - started


def ours_sample(engine: Engine, settings: Settings, count: int) -> Sample:
    """Deliver every pending row through the outbox sender."""
    reset(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    started = time.perf_counter()
    report = asyncio.run(deliver_all(factory, settings, now=NOW + timedelta(minutes=1)))
    seconds = time.perf_counter() - started
    if report.sent != count:
        raise RuntimeError(f"sent {report.sent} of {count}: {report}")
    return Sample(count, seconds)


async def _plain(messages: list, host: str, port: int, sender: str) -> None:
    async with aiosmtplib.SMTP(hostname=host, port=port) as smtp:
        for message, recipient in messages:
            await smtp.send_message(message, sender=sender, recipients=[recipient])


def plain_sample(messages: list, settings: Settings) -> Sample:
    """Send the same messages with plain aiosmtplib over one connection."""
    sender = parseaddr(settings.mail_from)[1]
    started = time.perf_counter()
    asyncio.run(_plain(messages, settings.smtp_host, settings.smtp_port, sender))
    return Sample(len(messages), time.perf_counter() - started)


def setup(cfg: Config, db: BenchDatabase, port: int) -> tuple[Engine, Settings]:
    """A database with ``cfg.mails`` pending rows and settings pointing at the sink."""
    engine = db.fresh()
    fill_outbox(engine, cfg.mails)
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none")
    return engine, settings


def run(cfg: Config, db: BenchDatabase) -> ScenarioResult:
    """Ours and plain aiosmtplib, alternating, ``cfg.reps`` times (at least 3)."""
    sink = SinkProcess()
    try:
        engine, settings = setup(cfg, db, sink.port)
        messages, render_seconds = prepared(engine, settings)  # also warms the templates
        samples = alternate(max(3, cfg.reps // 2 + 1), {
            "ours": lambda: ours_sample(engine, settings, cfg.mails),
            "plain": lambda: plain_sample(messages, settings),
        })
    finally:
        sink.stop()
    ours, plain = samples["ours"], samples["plain"]
    rows = [compare("4 mail", f"{cfg.mails} mails/s", "1/s", [s.rate for s in ours],
                    [s.rate for s in plain], "plain aiosmtplib", (">=", 0.8)),
            compare("4 mail", "render only, mails/s", "1/s", [cfg.mails / render_seconds], None)]
    details = {"mails": cfg.mails, "render_seconds": render_seconds,
               "ours_seconds_median": median([s.seconds for s in ours]),
               "plain_seconds_median": median([s.seconds for s in plain])}
    return ScenarioResult("4 mail", rows, details)


def profile_target(cfg: Config, db: BenchDatabase) -> None:
    """One delivery run of ours (for the profiler)."""
    sink = SinkProcess()
    try:
        engine, settings = setup(cfg, db, sink.port)
        ours_sample(engine, settings, cfg.mails)
    finally:
        sink.stop()
