"""The instrument schema: a mapping's questionnaire or logbook as validated data.

An instrument is a YAML document: sections of items (Likert with labelled scale
points, single choice, number, free text), each Likert item positive or negative,
every text in each of the instrument's languages. A logbook instrument adds the
per-day time split by area and by form of work.

These models check shapes and types; the rules that span fields (a Likert item
names a known scale, keys do not repeat, every text has every language, ...) are
in ``surveys.checks``. Build instruments only through ``surveys.loader``, which
runs both and names every problem at once.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Lang = Literal["sv", "en"]
ItemKind = Literal["likert", "single_choice", "number", "free_text"]
Polarity = Literal["positive", "negative"]
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,59}$"
Key = Annotated[str, Field(pattern=KEY_PATTERN)]
# Step number of each mapping (Kartläggning 1-3).
STEP_OF_MAPPING: dict[int, int] = {1: 4, 2: 5, 3: 6}


class Strict(BaseModel):
    """Base of every instrument model: unknown fields are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(Strict):
    """A text in Swedish and, when the instrument offers it, English."""

    sv: str = Field(min_length=1)
    en: str | None = Field(default=None, min_length=1)

    def get(self, locale: str) -> str:
        """The text in ``locale``, Swedish when that language is missing."""
        return (self.en if locale == "en" else None) or self.sv


class ScalePoint(Strict):
    """One labelled point of a Likert scale."""

    value: int
    label: LocalText


class Scale(Strict):
    """A Likert scale: labelled points with strictly increasing values."""

    key: Key
    points: tuple[ScalePoint, ...] = Field(min_length=3, max_length=11)

    @property
    def low(self) -> int:
        """The lowest value."""
        return self.points[0].value

    @property
    def high(self) -> int:
        """The highest value."""
        return self.points[-1].value

    @property
    def middle(self) -> float:
        """The middle of the scale."""
        return (self.low + self.high) / 2


class Option(Strict):
    """One option of a single-choice item."""

    value: Key
    label: LocalText


class Item(Strict):
    """One question."""

    key: Key
    kind: ItemKind
    text: LocalText
    # The same question worded for another audience (e.g. top management), by role.
    variants: dict[str, LocalText] = Field(default_factory=dict)
    required: bool = True
    scale: Key | None = None
    polarity: Polarity | None = None
    options: tuple[Option, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    max_length: int = Field(default=2000, ge=1, le=20000)

    def wording(self, locale: str, role: str | None = None) -> str:
        """The question text for ``role`` in ``locale``."""
        return (self.variants.get(role) or self.text).get(locale) if role else self.text.get(locale)


class Section(Strict):
    """A titled group of items."""

    key: Key
    title: LocalText
    intro: LocalText | None = None
    items: tuple[Item, ...] = Field(min_length=1)


class Category(Strict):
    """One category of a logbook day's time split (an area or a form of work)."""

    key: Key
    label: LocalText


class LogbookSpec(Strict):
    """The five-day logbook: each day's hours split by area and by form of work."""

    days: int = Field(default=5, ge=1, le=10)
    max_hours_per_day: float = Field(default=24, gt=0, le=24)
    # How far the two splits may differ from the day's total (rounding of quarter hours).
    tolerance_hours: float = Field(default=0.25, ge=0, le=1)
    areas: tuple[Category, ...] = Field(min_length=2)
    forms: tuple[Category, ...] = Field(min_length=2)
    day_comment: bool = True


class Instrument(Strict):
    """A mapping's instrument: survey or logbook, versioned, in one or two languages."""

    key: Key
    version: int = Field(ge=1)
    mapping: Literal[1, 2, 3]
    kind: Literal["survey", "logbook"] = "survey"
    languages: tuple[Lang, ...] = ("sv", "en")
    title: LocalText
    intro: LocalText | None = None
    audiences: tuple[Literal["chef", "ledning"], ...] = ("chef",)
    scales: tuple[Scale, ...] = ()
    logbook: LogbookSpec | None = None
    sections: tuple[Section, ...] = ()
    @property
    def step_no(self) -> int:
        """The process step this instrument belongs to."""
        return STEP_OF_MAPPING[self.mapping]

    # Look-ups by key, built on first use and kept (the model is frozen). With a
    # repeated key (which the loader's checks refuse) the first one wins, as a search's would.

    @cached_property
    def _all_items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    @cached_property
    def _item_by_key(self) -> dict[str, Item]:
        return {item.key: item for item in reversed(self._all_items)}

    @cached_property
    def _scale_by_key(self) -> dict[str, Scale]:
        return {scale.key: scale for scale in reversed(self.scales)}

    def items(self) -> list[Item]:
        """Every item, in order."""
        return list(self._all_items)

    def item(self, key: str) -> Item:
        """The item named ``key`` (KeyError when there is none)."""
        return self._item_by_key[key]

    def scale(self, key: str) -> Scale:
        """The scale named ``key`` (KeyError when there is none)."""
        return self._scale_by_key[key]
