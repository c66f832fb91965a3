"""A database of its own for each crash run: SQLite in a temporary folder, or a fresh PostgreSQL one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chefoskop.db import make_engine
from chefoskop.migrate import upgrade
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.integration.test_mail_delivery import settings, smtp_server  # noqa: F401 - SMTP fixtures


@pytest.fixture
def own_database_url(tmp_path) -> Iterator[str]:
    """A migrated database that only this test uses (dropped afterwards on PostgreSQL)."""
    base = os.environ.get("CHEFOSKOP_TEST_DATABASE_URL")
    postgres = bool(base and base.startswith("postgresql"))
    url = _create_postgres_database(base) if postgres else f"sqlite:///{tmp_path / 'crash.db'}"
    engine = make_engine(url)
    upgrade(engine)  # migrated here, so no kill lands inside a migration
    engine.dispose()
    yield url
    if postgres:
        _drop_postgres_database(base, url)
