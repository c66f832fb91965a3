"""``chefoskop db upgrade`` and ``chefoskop demo`` through the real command (Typer's CliRunner).

Each test runs the command line on its own empty SQLite file in ``tmp_path``, also when the
suite runs on PostgreSQL: the settings point at that file and every check reads the file
itself through an engine of its own, so a command that wrote elsewhere (or failed) fails here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from typer.testing import CliRunner

import models
from chefoskop import db
from chefoskop.demo import DEMO_NAME
from chefoskop.migrate import alembic_config
from chefoskop.settings import get_settings
from chefoskop_cli.main import app
from flows.definition import load_definition
from models import (
    AuditEvent,
    Body,
    BodyMember,
    Gate,
    Organisation,
    Person,
    Process,
    RoleAssignment,
    StepInstance,
    Unit,
)


def _forget_settings() -> None:
    """Drop the cached settings, engine and session factory (tests/conftest.py does the same)."""
    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty SQLite file the command line is pointed at; the settings are restored after."""
    path = tmp_path / "cli.db"
    sqlite3.connect(path).close()  # a real, empty database file
    monkeypatch.setenv("CHEFOSKOP_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("CHEFOSKOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHEFOSKOP_FLOW_MODE", "direct")  # step 1 opens in this process, no Prefect
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))  # the CLI would set it otherwise
    _forget_settings()
    try:
        yield path
    finally:
        _forget_settings()


@pytest.fixture
def reader(cli_database: Path) -> Iterator[Engine]:
    """An engine of the test's own on the file (not the application's cached one)."""
    engine = create_engine(f"sqlite:///{cli_database}")
    yield engine
    engine.dispose()


def _invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None and result.exit_code == 0, (result.output, result.exception)
    return result


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t))
                for t in models.Base.metadata.sorted_tables}


def test_db_upgrade_migrates_an_empty_file_to_the_newest_revision(cli_database: Path, reader: Engine):
    assert inspect(reader).get_table_names() == []

    result = _invoke("db", "upgrade")

    assert str(cli_database) in result.stderr  # it says which database it upgraded
    tables = set(inspect(reader).get_table_names())
    assert {t.name for t in models.Base.metadata.sorted_tables} <= tables
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with reader.connect() as conn:
        assert set(conn.scalars(text("SELECT version_num FROM alembic_version"))) == heads
    _invoke("db", "upgrade")  # again: nothing to do, no error
    assert set(inspect(reader).get_table_names()) == tables


def test_db_upgrade_fails_with_a_nonzero_exit_when_the_database_is_unusable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_database: Path):
    """The runner reports failures: the checks above would see one."""
    not_a_database = tmp_path / "garbage.db"
    not_a_database.write_bytes(b"this is not an SQLite file" * 200)
    monkeypatch.setenv("CHEFOSKOP_DATABASE_URL", f"sqlite:///{not_a_database}")
    _forget_settings()
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code != 0 and "not a database" in str(result.exception)


def test_demo_seeds_vastra_soderbotten_and_starts_its_process(cli_database: Path, reader: Engine):
    _invoke("db", "upgrade")
    result = _invoke("demo")

    with reader.connect() as conn:
        [org] = conn.execute(select(Organisation.id, Organisation.name)).all()
        assert org.name == DEMO_NAME
        people = conn.scalar(select(func.count()).select_from(Person)
                             .where(Person.organisation_id == org.id))
        assert 25 <= people <= 35
        assert conn.scalar(select(func.count()).select_from(Person).where(
            Person.organisation_id == org.id, Person.password_hash.is_(None))) == 0  # all can sign in
        levels = set(conn.scalars(select(Unit.level).where(Unit.organisation_id == org.id)))
        assert levels == {"A", "B", "C"}
        [process] = conn.execute(select(Process.id, Process.status, Process.current_step_no)).all()
        assert (process.status, process.current_step_no) == ("running", 1)

        # Every role the definition names is held: by a person, or (samverkan) by a body with members.
        roles = conn.execute(select(RoleAssignment.role, RoleAssignment.person_id, RoleAssignment.body_id)
                             .where(RoleAssignment.process_id == process.id)).all()
        held = {r.role for r in roles}
        assert set(load_definition().roles) <= held, set(load_definition().roles) - held
        for role in load_definition().roles:
            holders = [r for r in roles if r.role == role]
            assert all(r.person_id or r.body_id for r in holders), role
        body_ids = {r.body_id for r in roles if r.body_id}
        assert body_ids and conn.scalar(select(func.count()).select_from(BodyMember)
                                        .where(BodyMember.body_id.in_(body_ids))) >= 2
        assert conn.scalar(select(Body.kind).where(Body.id.in_(body_ids))) == "samverkansgrupp"

        # Step 1 is open (its flow ran) and waits for the beställare's order; the rest wait.
        steps = dict(conn.execute(select(StepInstance.step_no, StepInstance.status)
                                  .where(StepInstance.process_id == process.id)).all())
        assert steps == {1: "open", **{n: "pending" for n in range(2, 10)}}
        gates = dict(conn.execute(select(Gate.key, Gate.status).join(
            StepInstance, StepInstance.id == Gate.step_id).where(StepInstance.step_no == 1)).all())
        assert gates == {"order": "open", "samverkan_design": "pending", "step_approval": "pending"}
        # ...and each of those states was written through the engine, with its audit event.
        last = {}
        for entity, entity_id, to_state in conn.execute(select(
                AuditEvent.entity, AuditEvent.entity_id, AuditEvent.to_state)
                .where(AuditEvent.action != "phase").order_by(AuditEvent.id)):
            last[(entity, entity_id)] = to_state
        for model, entity in ((Process, "process"), (StepInstance, "step"), (Gate, "gate")):
            for obj_id, status in conn.execute(select(model.id, model.status)):
                assert last.get((entity, obj_id)) == status, (entity, obj_id, status)

    # Who to sign in as: one or two people per role, with the demo password.
    assert "chefoskop-demo" in result.stderr
    first_words = [line.split()[0] for line in result.stderr.splitlines() if "@" in line]
    for role in set(load_definition().roles) - {"samverkan"}:  # a body does not sign in
        assert 1 <= first_words.count(role) <= 2, (role, first_words)


def test_a_second_demo_changes_nothing_and_prints_the_sign_in_again(cli_database: Path, reader: Engine):
    """What a second ``demo`` does: it finds Västra Söderbotten by its slug, creates and starts
    nothing (no second organisation, process or audit event), and prints the same sign-in lines."""
    first = _invoke("demo")  # demo migrates the empty file itself
    before = _row_counts(reader)
    assert before["organisation"] == 1 and before["process"] == 1

    second = _invoke("demo")

    assert _row_counts(reader) == before
    sign_in = [line for line in first.stderr.splitlines() if "@" in line]
    assert sign_in and [line for line in second.stderr.splitlines() if "@" in line] == sign_in
