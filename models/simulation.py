"""Progress of ``chefoskop simulate`` runs, kept so that a killed run can be resumed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class SimulationRun(Base):
    """One simulation: its configuration and how far it has come.

    The simulation writes this row in the same transaction as each organisation it
    creates, and advances ``today``/``days`` only after a simulated day's work has
    committed, so after a crash the row never claims more than was done.
    """

    __tablename__ = "simulation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)  # or completed
    seed: Mapped[int]
    config: Mapped[dict]
    organisation_ids: Mapped[list] = mapped_column(default=list)
    process_ids: Mapped[list] = mapped_column(default=list)
    today: Mapped[date]
    days: Mapped[int] = mapped_column(default=0)
    starts: Mapped[int] = mapped_column(default=1)  # invocations that worked on the run
