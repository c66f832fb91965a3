"""Registries the reminder sweep runs (``flows.sweep``), filled by other capabilities.

Modules named in ``flows.opening.HOOK_MODULES`` append to these at import time:

- ``NOTICE_FILTERS``: each returns True when a task needs no reminder now (e.g.
  its survey is answered).
- ``NO_ESCALATION``: each returns True for a task whose lateness is told to nobody but
  the people responsible for it: the sweep still reminds them, but never raises its
  escalation level (e.g. a respondent's answer task: escalating would tell the
  processägare who has not answered a survey).
- ``BEFORE_SWEEP``: periodic work in the sweep's first transaction (e.g. closing
  due surveys); each may return a callback to run after that transaction committed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from flows.engine.core import Context
from models import Task

NOTICE_FILTERS: list[Callable[[Session, Task], bool]] = []
NO_ESCALATION: list[Callable[[Session, Task], bool]] = []
BEFORE_SWEEP: list[Callable[[Context], Callable[[], None] | None]] = []
