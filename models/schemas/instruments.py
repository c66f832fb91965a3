"""What the API says about mapping instruments: the shipped ones and an organisation's own."""

from __future__ import annotations

from datetime import datetime

from models.schemas.common import OutModel


class InstrumentOut(OutModel):
    """One instrument an organisation can use, and whether its mappings use it."""

    key: str
    version: int
    mapping: int
    kind: str
    title: str
    languages: list[str]
    items: int
    source: str  # "shipped" or "organisation"
    in_use: bool  # the one new mappings of this number use
    imported_at: datetime | None = None
