"""``python -m bench --profile <scenario>``: our side of a scenario under pyinstrument."""

from __future__ import annotations

from datetime import UTC, datetime

from pyinstrument import Profiler

from bench.common import Config
from bench.database import BenchDatabase
from bench.report import RESULTS


def _engine(cfg: Config, db: BenchDatabase) -> None:
    from bench.walk import Walker

    Walker(db.fresh()).run(cfg.processes, cfg.managers, cfg.seed)


def _growth(cfg: Config, db: BenchDatabase) -> None:
    from bench.walk import Walker

    Walker(db.fresh()).run(1, cfg.managers * 10, cfg.seed)


def _mail(cfg: Config, db: BenchDatabase) -> None:
    from bench import s4_mail

    s4_mail.profile_target(cfg, db)


def _inbox(cfg: Config, db: BenchDatabase) -> None:
    """The inbox handler's own work (auth and HTTP aside) for 300 random managers."""
    import random

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from api.deps import Paging
    from api.routes.tasks import inbox
    from bench.s2_inbox import build
    from models import ApiToken
    from roles.permissions import Viewer

    if not hasattr(db, "inbox_engine"):
        db.inbox_engine = db.fresh()
        build(db.inbox_engine, 5)
    with Session(db.inbox_engine) as s:
        people = s.execute(select(ApiToken.person_id, ApiToken.organisation_id)).all()
    rng = random.Random(1)
    for _ in range(300):
        person_id, org_id = rng.choice(people)
        with Session(db.inbox_engine) as s:
            inbox(s, Viewer(person_id=person_id, organisation_id=org_id, is_org_admin=False), "sv",
                  Paging(20, 0))


TARGETS = {"engine": _engine, "growth": _growth, "mail": _mail, "inbox": _inbox}


def profile_scenario(name: str, cfg: Config, db: BenchDatabase) -> str:
    """Profile our side of ``name`` once; write HTML and text; return the text summary."""
    target = TARGETS[name]
    target(cfg, db)  # warm-up: imports, definition cache, first connections
    profiler = Profiler(interval=0.001)
    with profiler:
        target(cfg, db)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = RESULTS / f"profile-{name}-{db.kind}-{stamp}"
    base.with_suffix(".html").write_text(profiler.output_html())
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    base.with_suffix(".txt").write_text(text)
    return f"{text}\nwritten: {base}.html and .txt"
