"""Database outage (issue #8): a clean 503 with Retry-After, nothing half-written, and
recovery without restarting the app.

PostgreSQL: the app runs in uvicorn on 127.0.0.1 (in a thread) and reaches PostgreSQL
through a TCP proxy (``tcp_proxy.py``), so an outage hits only this test's
connections, never other tests sharing the server. Under concurrent load (writers
reassigning their own task, readers reading tasks and a page) the proxy resets every
connection and refuses new ones for a few seconds, as a server restart does, then lets
them through again; a second test terminates the app's backends with
``pg_terminate_backend`` (only those carrying this test's ``application_name``).
Every answer must be a success or a 503 problem (HTML on pages) with Retry-After;
every reassignment must be all there (task version, audit event and outbox row) or
not at all; and requests must succeed again without a restart.

Which PostgreSQL: the run's server when the suite runs on PostgreSQL
(CHEFOSKOP_TEST_DATABASE_URL); on the SQLite pass the one ``scripts/test.sh`` uses
(CHEFOSKOP_TEST_PG_URL, default 127.0.0.1:5432), since a PostgreSQL outage can only be
shown against PostgreSQL. An unreachable server fails these tests; they never skip.

SQLite: another connection holding the write lock longer than the busy timeout gives
503 with Retry-After (HTML on pages), not 500, and the request succeeds once the lock
is gone.

Each test prints its figures (``-s`` shows them) and records them as junit properties.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.security.tokens import mint_token
from chefoskop import clock
from chefoskop.db import make_engine
from chefoskop.migrate import upgrade
from chefoskop.settings import Settings
from flows import engine as flow_engine
from models import ApiToken, AuditEvent, OutboxMessage, Task
from tests import helpers
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.reliability.tcp_proxy import TcpProxy, free_port

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RETRY_AFTER = 3  # the setting under test; the default is 2
OUTAGE_SECONDS = 3.0
REQUEST_BOUND = 12.0  # no answer may take longer, outage or not
PROCESSES = 3  # each has two live tasks: one writer thread per task


def pg_base_url() -> str:
    """The PostgreSQL server of this run (see the module docstring)."""
    run_url = os.environ.get("CHEFOSKOP_TEST_DATABASE_URL", "")
    if run_url.startswith("postgresql"):
        return run_url
    return os.environ.get("CHEFOSKOP_TEST_PG_URL", DEFAULT_PG)


# -- the world: processes with live tasks, and who may reassign them ---------------------


@dataclass
class Writer:
    """A processledare reassigning one task back and forth between two people."""

    task_id: int
    process_id: int
    headers: dict[str, str]
    targets: tuple[int, int]


@dataclass
class World:
    writers: list[Writer]


def _token(session: Session, person_id: int, organisation_id: int) -> dict[str, str]:
    token, prefix, digest = mint_token()
    session.add(ApiToken(organisation_id=organisation_id, person_id=person_id, name="outage",
                         prefix=prefix, token_hash=digest, created_at=helpers.NOW))
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def build_world(factory: sessionmaker[Session], processes: int) -> World:
    """``processes`` organisations, each with a process whose order is approved (two live tasks)."""
    writers = []
    with factory() as session:
        for n in range(processes):
            started = helpers.start(session, managers=1, seed=20 + n)
            gate = helpers.gate(session, started.process_id, 1, "order")
            flow_engine.decide_gate(helpers.ctx_for(session, started.person("bestallare")),
                                    gate.id, "approve")
            session.commit()
            leader = started.person("processledare")
            headers = _token(session, leader, started.org.organisation.id)
            targets = (leader, started.person("chef"))
            for task in helpers.live_tasks(session, started.process_id):
                writers.append(Writer(task.id, started.process_id, headers, targets))
    return World(writers)


@dataclass
class TaskLedger:
    """What the database holds about one task's reassignments."""

    version: int
    assignee_id: int | None
    events: Counter[int]  # reassignment audit events by the person reassigned to
    mails: Counter[int]  # task_assigned outbox rows by recipient
    last_to: int | None  # the person the newest reassignment event names


def ledger(factory: sessionmaker[Session], task_ids: list[int]) -> dict[int, TaskLedger]:
    """Per task: its row, its reassignment audit events and its task_assigned outbox rows."""
    found: dict[int, TaskLedger] = {}
    with factory() as session:
        for task in session.scalars(select(Task).where(Task.id.in_(task_ids))):
            events = session.execute(select(AuditEvent.data).where(
                AuditEvent.entity == "task", AuditEvent.entity_id == task.id,
                AuditEvent.action == "reassigned").order_by(AuditEvent.id)).scalars().all()
            mails = session.scalars(select(OutboxMessage.recipient_id).where(
                OutboxMessage.kind == "task_assigned", OutboxMessage.task_id == task.id)).all()
            found[task.id] = TaskLedger(task.version, task.assignee_id,
                                        Counter(e["to"] for e in events), Counter(mails),
                                        events[-1]["to"] if events else None)
    return found


# -- the app in uvicorn ------------------------------------------------------------------


class AppServer:
    """``create_app`` served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        from api.app import create_app

        self.port = free_port()
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                log_level="critical", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def point_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Engine], None]]:
    """Make the app's ``get_engine``/``get_sessionmaker`` (step flows too) use ``engine``."""
    from chefoskop import db

    def point(engine: Engine) -> None:
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        monkeypatch.setattr(db, "get_engine", lambda: engine)
        monkeypatch.setattr(db, "get_sessionmaker", lambda: factory)

    with clock.simulated_clock(lambda: helpers.NOW):
        yield point


@pytest.fixture
def app_on(point_at: Callable[[Engine], None]) -> Callable[[Engine], AppServer]:
    """An app server on ``engine`` (its URL is also the settings' database URL)."""

    def serve(engine: Engine) -> AppServer:
        point_at(engine)
        settings = Settings(environment="test", flow_mode="direct", db_retry_after_seconds=RETRY_AFTER,
                            database_url=engine.url.render_as_string(hide_password=False))
        return AppServer(settings)

    return serve


# -- load --------------------------------------------------------------------------------


@dataclass
class Answer:
    kind: str  # "write", "read" or "page"
    started: float
    ended: float
    status: int | None = None  # None: no HTTP answer at all (the error says why)
    content_type: str = ""
    retry_after: str | None = None
    code: str | None = None
    task_id: int | None = None
    error: str | None = None
    body: str = ""  # the text of a refusal
    json: dict | None = None  # the body of a success

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400

    @property
    def clean_503(self) -> bool:
        """A 503 that says so properly: problem+json (or an HTML page) with Retry-After."""
        if self.status != 503:
            return False
        if self.kind == "page":
            return self.content_type.startswith("text/html")
        return (self.content_type.startswith("application/problem+json")
                and self.code == "service_unavailable" and self.retry_after == str(RETRY_AFTER))


@dataclass
class Load:
    """Writer threads reassigning their own task, and readers of a task and of a page."""

    base_url: str
    world: World
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        for writer in self.world.writers:
            self.threads.append(threading.Thread(target=self._write, args=(writer,), daemon=True))
        for writer in self.world.writers[:2]:
            self.threads.append(threading.Thread(target=self._read, args=(writer,), daemon=True))
        self.threads.append(threading.Thread(target=self._page, args=(self.world.writers[0],),
                                             daemon=True))
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_BOUND + 5)
        assert not any(t.is_alive() for t in self.threads), "a load thread hangs"

    def since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.started >= moment]

    def warm_up(self) -> float:
        """Wait until every writer has succeeded twice; the moment the load began."""
        start = time.monotonic()
        self.wait_for_successes(start, 2 * len(self.world.writers), timeout=15)
        assert all(a.ok for a in self.since(start)), "failures before any outage"
        return start

    def recovery(self, moment: float) -> tuple[float, list[Answer]]:
        """Seconds until every writer succeeded twice after ``moment``; the next half second's answers."""
        seconds = self.wait_for_successes(moment, 2 * len(self.world.writers), timeout=15)
        settle = time.monotonic()
        time.sleep(0.5)
        return seconds, self.since(settle)

    def first_success(self, moment: float) -> float:
        """Seconds from ``moment`` until a request started after it first succeeded."""
        return min(a.ended for a in self.since(moment) if a.ok) - moment

    def wait_for_successes(self, moment: float, count: int, timeout: float) -> float:
        """Seconds until ``count`` writes started after ``moment`` succeeded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = sorted(a.ended for a in self.since(moment) if a.kind == "write" and a.ok)
            if len(done) >= count:
                return done[count - 1] - moment
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} successful writes {timeout} s after {moment}")

    def _call(self, client: httpx.Client, kind: str, method: str, url: str, task_id: int | None,
              **kwargs) -> Answer:
        started = time.monotonic()
        answer = Answer(kind, started, started, task_id=task_id)
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            answer.error = f"{type(exc).__name__}: {exc}"
        else:
            answer.status = response.status_code
            answer.content_type = response.headers.get("content-type", "")
            answer.retry_after = response.headers.get("retry-after")
            if answer.content_type.startswith("application/problem+json"):
                answer.code = response.json().get("code")
            answer.body = response.text if answer.status >= 400 else ""
            answer.json = response.json() if answer.ok and kind != "page" else None
        answer.ended = time.monotonic()
        with self._lock:
            self.answers.append(answer)
        return answer

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=REQUEST_BOUND, follow_redirects=False)

    def _write(self, writer: Writer) -> None:
        url = f"/api/v1/tasks/{writer.task_id}"
        with self._client() as client:
            version, turn = None, 0
            while not self.stop.is_set():
                if version is None:  # after a failure the last write may or may not be in
                    read = self._call(client, "read", "GET", url, writer.task_id,
                                      headers=writer.headers)
                    if read.ok:
                        version = read.json["version"]
                    else:
                        time.sleep(0.05)
                    continue
                turn += 1
                body = {"to_person_id": writer.targets[turn % 2], "expected_version": version}
                answer = self._call(client, "write", "POST", f"{url}/reassign", writer.task_id,
                                    headers=writer.headers, json=body)
                version = answer.json["version"] if answer.ok else None

    def _read(self, writer: Writer) -> None:
        with self._client() as client:
            while not self.stop.is_set():
                self._call(client, "read", "GET", f"/api/v1/processes/{writer.process_id}", None,
                           headers=writer.headers)
                time.sleep(0.01)

    def _page(self, writer: Writer) -> None:
        with self._client() as client:
            while not self.stop.is_set():
                self._call(client, "page", "GET", "/login", None, headers=writer.headers)
                time.sleep(0.02)


def check_answers(answers: list[Answer]) -> dict[str, int | float]:
    """Every answer is a success or a clean 503, in bounded time; the figures."""
    bad = [a for a in answers if not (a.ok or a.clean_503)]
    assert not bad, "answers other than success or a clean 503: " + json.dumps(
        [{k: getattr(a, k) for k in ("kind", "status", "content_type", "retry_after", "code",
                                     "error")} | {"body": getattr(a, "body", "")[:300]}
         for a in bad[:5]], ensure_ascii=False)
    slowest = max((a.ended - a.started for a in answers), default=0.0)
    assert slowest < REQUEST_BOUND
    pages = [a for a in answers if a.kind == "page" and a.status == 503]
    return {"requests": len(answers), "succeeded": sum(a.ok for a in answers),
            "answered_503_with_retry_after": sum(a.status == 503 and a.retry_after is not None
                                                 for a in answers),
            "pages_503_html": len(pages),
            "pages_503_without_retry_after": sum(a.retry_after is None for a in pages),
            "other_5xx": sum(a.status is not None and a.status >= 500 and a.status != 503
                             for a in answers),
            "no_answer": sum(a.status is None for a in answers),
            "slowest_answer_s": round(slowest, 3)}


def check_nothing_half_written(before: dict[int, TaskLedger], after: dict[int, TaskLedger],
                               answers: list[Answer]) -> dict[str, int]:
    """Each reassignment is all there (task row, audit event, outbox row) or not at all."""
    committed = ambiguous = 0
    for task_id, old in before.items():
        new = after[task_id]
        events, mails = new.events - old.events, new.mails - old.mails
        assert events == mails, (task_id, events, mails)  # every event has its mail, and back
        count = sum(events.values())
        if count:
            assert new.assignee_id == new.last_to, (task_id, new.assignee_id, new.last_to)
        # the row changes at most once per event (not at all when reassigned to its holder)
        assert new.version - old.version <= count, (task_id, old.version, new.version, count)
        writes = [a for a in answers if a.kind == "write" and a.task_id == task_id]
        succeeded = sum(a.ok for a in writes)
        failed = len(writes) - succeeded
        # a 503 from a cut during COMMIT may or may not have committed; never more than that
        assert succeeded <= count <= succeeded + failed, (task_id, succeeded, failed, count)
        committed += count
        ambiguous += count - succeeded
    return {"writes_committed": committed, "failed_writes_that_committed": ambiguous,
            "half_written": 0}


def verdict(pg: PgSetup, before: dict[int, TaskLedger], answers: list[Answer],
            after: list[Answer]) -> dict[str, int | float]:
    """Clean answers throughout, successes only after recovery, nothing half-written."""
    figures = check_answers(answers)
    assert after and all(a.ok for a in after), "requests still fail after recovery"
    return figures | check_nothing_half_written(before, ledger(pg.direct, list(before)), answers)


def report(record_property: Callable[[str, object], None], name: str, figures: dict) -> None:
    record_property(name, json.dumps(figures))
    print(f"\n{name}: {json.dumps(figures)}")


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A migrated database of its own on the run's PostgreSQL server."""
    base = pg_base_url()
    try:
        url = _create_postgres_database(base)
    except Exception as exc:  # fail, do not skip: the outage suite needs PostgreSQL
        pytest.fail(f"PostgreSQL at {make_url(base).render_as_string()} is needed: {exc}")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    _drop_postgres_database(base, url)


@dataclass
class PgSetup:
    direct: sessionmaker[Session]  # straight to PostgreSQL, for setup and checks
    proxy: TcpProxy
    app_engine: Engine  # through the proxy, as the app sees it
    application_name: str
    world: World


@pytest.fixture
def pg(pg_url: str, point_at: Callable[[Engine], None]) -> Iterator[PgSetup]:
    """The world on PostgreSQL, and an app engine that reaches it only through the proxy."""
    direct_engine = make_engine(pg_url)
    direct = sessionmaker(bind=direct_engine, expire_on_commit=False)
    point_at(direct_engine)
    world = build_world(direct, PROCESSES)
    target = make_url(pg_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    name = f"chefoskop-outage-{uuid.uuid4().hex[:8]}"
    proxied = target.set(host="127.0.0.1", port=proxy.port,
                         query={**target.query, "application_name": name})
    app_engine = make_engine(proxied.render_as_string(hide_password=False))
    try:
        yield PgSetup(direct, proxy, app_engine, name, world)
    finally:
        app_engine.dispose()
        proxy.close()
        from tests.conftest import _empty_tables

        _empty_tables(direct_engine)
        direct_engine.dispose()


def test_postgres_restart_under_load_gives_clean_503s_and_recovers(
    pg: PgSetup, app_on, record_property
) -> None:
    task_ids = [w.task_id for w in pg.world.writers]
    before = ledger(pg.direct, task_ids)
    with app_on(pg.app_engine) as server, Load(server.url, pg.world) as load:
        t0 = load.warm_up()
        outage_start = time.monotonic()
        cut = pg.proxy.outage()  # a restart: every connection reset, new ones refused
        time.sleep(OUTAGE_SECONDS)
        during = load.since(outage_start)
        recovered_at = time.monotonic()
        pg.proxy.recover()
        recovery, after = load.recovery(recovered_at)
    answers = load.since(t0)

    assert cut > 0, "the proxy had no connection to cut: the load did not reach PostgreSQL"
    assert any(a.status == 503 for a in during), "the outage was not noticed"
    figures = verdict(pg, before, answers, after) | {
        "connections_cut": cut, "outage_s": OUTAGE_SECONDS, "requests_during_outage": len(during),
        "during_outage_503": sum(a.status == 503 for a in during),
        "first_success_after_recovery_s": round(load.first_success(recovered_at), 3),
        "all_writers_twice_after_recovery_s": round(recovery, 3)}
    report(record_property, "db_outage_postgres_restart", figures)


def test_terminated_backends_mid_load_give_clean_503s_and_recover(
    pg: PgSetup, app_on, record_property
) -> None:
    task_ids = [w.task_id for w in pg.world.writers]
    before = ledger(pg.direct, task_ids)
    terminate = text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE application_name = :name AND pid <> pg_backend_pid()")
    terminated = 0
    with app_on(pg.app_engine) as server, Load(server.url, pg.world) as load:
        t0 = load.warm_up()
        with pg.direct() as admin:
            for _ in range(4):
                terminated += admin.scalar(terminate, {"name": pg.application_name})
                admin.commit()
                time.sleep(0.25)
        recovery, after = load.recovery(time.monotonic())
    answers = load.since(t0)

    assert terminated > 0, "no backend of the app was found to terminate"
    figures = verdict(pg, before, answers, after) | {
        "backends_terminated": terminated, "all_writers_twice_after_last_kill_s": round(recovery, 3)}
    report(record_property, "db_outage_postgres_terminate", figures)


# -- SQLite --------------------------------------------------------------------------------


def test_sqlite_lock_beyond_the_busy_timeout_gives_503_then_succeeds(
    tmp_path: Path, point_at, app_on, record_property
) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    busy = Settings(sqlite_busy_timeout_seconds=0.5)
    engine = make_engine(url, busy)
    upgrade(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    point_at(engine)
    world = build_world(factory, 1)
    writer = world.writers[0]
    before = ledger(factory, [writer.task_id])
    reassign = f"/api/v1/tasks/{writer.task_id}/reassign"
    body = {"to_person_id": writer.targets[1], "expected_version": before[writer.task_id].version}

    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with app_on(engine) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            holder.execute("BEGIN IMMEDIATE")  # the write lock, held past the busy timeout
            started = time.monotonic()
            locked = client.post(reassign, headers=writer.headers, json=body)
            waited = time.monotonic() - started
            page = client.get("/login", headers=writer.headers)  # a page that signs in (writes)
            holder.execute("ROLLBACK")
            free = client.post(reassign, headers=writer.headers, json=body)
    finally:
        holder.close()

    assert locked.status_code == 503, locked.text
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert locked.headers["retry-after"] == str(RETRY_AFTER)
    problem = locked.json()
    assert problem["code"] == "service_unavailable" and problem["title"] == "Försök igen om en stund"
    assert 0.4 < waited < 5
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "Försök igen om en stund" in page.text  # a readable page, not JSON
    assert free.status_code == 200, free.text
    old, new = before[writer.task_id], ledger(factory, [writer.task_id])[writer.task_id]
    # the locked attempt left nothing behind; the one after the lock wrote row, event and mail
    assert new.events - old.events == new.mails - old.mails == Counter({writer.targets[1]: 1})
    assert new.assignee_id == writer.targets[1]
    engine.dispose()
    report(record_property, "db_outage_sqlite_locked",
           {"locked_status": locked.status_code, "retry_after": locked.headers["retry-after"],
            "waited_s": round(waited, 3), "page_status": page.status_code,
            "page_retry_after": page.headers.get("retry-after"), "after_unlock": free.status_code})


def test_a_sql_mistake_on_sqlite_is_still_a_500(tmp_path: Path) -> None:
    """Only locks and unreachable files are 'unavailable'; SQLite reports SQL bugs as OperationalError too."""
    from sqlalchemy.exc import OperationalError

    from api.problems import database_unavailable

    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(OperationalError) as mistake, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not database_unavailable(mistake.value)
    engine.dispose()
