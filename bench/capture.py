"""Baseline A, the storage limit: the rows our run wrote, replayed with SQLAlchemy Core.

``StatementLog`` records every INSERT, UPDATE and DELETE the engine emits, grouped
by the transaction it ran in. ``replay`` writes the same rows into an empty
database in the same transactions: no reads, no ORM, no rules, and consecutive
identical statements batched into one executemany.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine.interfaces import ExecuteStyle

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_RETURNING = re.compile(r"\s+RETURNING\s.*$", re.IGNORECASE | re.DOTALL)


@dataclass
class Transaction:
    """The writes of one committed transaction; ``timed`` marks the measured ones."""

    timed: bool
    statements: list[tuple[str, Any, bool]] = field(default_factory=list)


class StatementLog:
    """Records the writes sent through ``engine`` until ``detach``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.transactions: list[Transaction] = []
        self._current: list[tuple[str, Any, bool]] = []
        self.sent = 0  # every statement, reads included (round trips)
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.sent += 1
        if _WRITE.match(statement):
            # An insertmanyvalues batch is flagged executemany but is one statement.
            executemany = executemany and context.execute_style is ExecuteStyle.EXECUTEMANY
            params = [_row(p) for p in parameters] if executemany else _row(parameters)
            self._current.append((_RETURNING.sub("", statement), params, executemany))

    def end(self, *, timed: bool) -> None:
        """Close the transaction that has just committed."""
        self.transactions.append(Transaction(timed, self._current))
        self._current = []

    def discard(self) -> None:
        """Forget writes of a transaction that was rolled back."""
        self._current = []

    def detach(self) -> None:
        """Stop recording."""
        event.remove(self.engine, "before_cursor_execute", self._seen)

    @property
    def rows_written(self) -> int:
        """Statements (or executemany rows) in timed transactions."""
        return sum(len(p) if many else 1 for t in self.transactions if t.timed
                   for _, p, many in t.statements)


def _row(params: Any) -> Any:
    """Positional parameters as a tuple (the driver may hand over a list)."""
    return tuple(params) if isinstance(params, list) else params


def _batched(statements: list[tuple[str, Any, bool]]) -> list[tuple[str, Any]]:
    """Merge runs of the same single-row statement into one executemany."""
    out: list[tuple[str, list]] = []
    for sql, params, many in statements:
        rows = list(params) if many else [params]
        if out and out[-1][0] == sql:
            out[-1][1].extend(rows)
        else:
            out.append((sql, rows))
    return [(sql, rows if len(rows) > 1 else rows[0]) for sql, rows in out]


def statements_per_transaction(transactions: list[Transaction]) -> float:
    """Statements the replay sends per timed transaction (after batching)."""
    timed = [t for t in transactions if t.timed]
    return sum(len(_batched(t.statements)) for t in timed) / len(timed) if timed else 0.0


def replay(engine: Engine, transactions: list[Transaction]) -> list[float]:
    """Write the recorded transactions into ``engine``; seconds per timed transaction."""
    prepared = [(t.timed, _batched(t.statements)) for t in transactions]
    durations: list[float] = []
    for timed, statements in prepared:
        started = time.perf_counter()
        with engine.begin() as conn:
            for sql, params in statements:
                conn.exec_driver_sql(sql, params)
        if timed:
            durations.append(time.perf_counter() - started)
    return durations
