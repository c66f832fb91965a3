"""Checking a respondent's answers against the instrument (pure functions, no I/O).

Answers are a document ``{"items": {item_key: value}, "days": [day or None, ...]}``.
A logbook day is ``{"hours": h, "areas": {key: h}, "forms": {key: h}, "comment": str}``:
both splits must add up to the day's hours (within the instrument's tolerance),
and no day may exceed ``max_hours_per_day``. Values from web forms may come as
text; ``clean_*`` turns them into numbers or names why not.
"""

from __future__ import annotations

import math
from typing import Any

from surveys.errors import Issue
from surveys.schema import Instrument, Item, LogbookSpec


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> float | None:
    """A finite number from what was sent, or None (NaN and infinities are not numbers here)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, (int, float)) else \
            float(str(value).strip().replace(",", "."))
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _clean_likert(instrument: Instrument, item: Item, value: Any) -> tuple[Any, Issue | None]:
    number = _number(value)
    allowed = {p.value for p in instrument.scale(item.scale).points}
    if number is None or number != int(number) or int(number) not in allowed:
        return value, Issue(f"items.{item.key}", "not_on_scale", {"value": value})
    return int(number), None


def _clean_number(item: Item, value: Any) -> tuple[Any, Issue | None]:
    number = _number(value)
    path = f"items.{item.key}"
    if number is None:
        return value, Issue(path, "not_a_number")
    if item.integer and number != int(number):
        return value, Issue(path, "not_whole")
    if item.minimum is not None and number < item.minimum:
        return value, Issue(path, "below_minimum", {"minimum": _plain(item.minimum)})
    if item.maximum is not None and number > item.maximum:
        return value, Issue(path, "above_maximum", {"maximum": _plain(item.maximum)})
    return (int(number) if item.integer else number), None


def _plain(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def clean_item(instrument: Instrument, item: Item, value: Any) -> tuple[Any, Issue | None]:
    """One answer in its stored form, or the reason it is refused."""
    path = f"items.{item.key}"
    if item.kind == "likert":
        return _clean_likert(instrument, item, value)
    if item.kind == "number":
        return _clean_number(item, value)
    if item.kind == "single_choice":
        if str(value) not in {o.value for o in item.options}:
            return value, Issue(path, "not_an_option", {"value": value})
        return str(value), None
    text = str(value).strip()
    if len(text) > item.max_length:
        return value, Issue(path, "text_too_long", {"max_length": item.max_length})
    return text, None


def clean_items(instrument: Instrument, raw: dict[str, Any], *,
                complete: bool) -> tuple[dict[str, Any], list[Issue]]:
    """Answers given so far, cleaned; ``complete`` also asks for every required item."""
    known = {item.key: item for item in instrument.items()}
    issues = [Issue(f"items.{key}", "unknown_item", {"key": key}) for key in raw if key not in known]
    clean: dict[str, Any] = {}
    for key, item in known.items():
        value = raw.get(key)
        if _blank(value):
            if complete and item.required:
                issues.append(Issue(f"items.{key}", "required"))
            continue
        clean[key], issue = clean_item(instrument, item, value)
        if issue:
            issues.append(issue)
    return clean, issues


def _split(spec: LogbookSpec, name: str, raw: Any, path: str) -> tuple[dict[str, float], list[Issue]]:
    keys = [c.key for c in (spec.areas if name == "areas" else spec.forms)]
    raw = raw if isinstance(raw, dict) else {}
    issues = [Issue(f"{path}.{name}.{k}", "unknown_item", {"key": k}) for k in raw if k not in keys]
    parts: dict[str, float] = {}
    for key in keys:
        value = raw.get(key)
        number = 0.0 if _blank(value) else _number(value)
        if number is None:
            issues.append(Issue(f"{path}.{name}.{key}", "not_a_number"))
        elif number < 0:
            issues.append(Issue(f"{path}.{name}.{key}", "negative_hours"))
        else:
            parts[key] = number
    return parts, issues


def _hours(value: float) -> str:
    return f"{value:g}"


def clean_day(spec: LogbookSpec, index: int, raw: dict[str, Any]) -> tuple[dict[str, Any], list[Issue]]:
    """One logbook day (0-based ``index``) in stored form, or every reason it is refused."""
    path = f"days[{index}]"
    if not 0 <= index < spec.days:
        return raw, [Issue(path, "unknown_day", {"day": index + 1})]
    areas, issues = _split(spec, "areas", raw.get("areas"), path)
    forms, more = _split(spec, "forms", raw.get("forms"), path)
    issues += more
    total = _number(raw.get("hours")) if not _blank(raw.get("hours")) else sum(areas.values())
    if total is None:
        return raw, [*issues, Issue(f"{path}.hours", "not_a_number")]
    if total < 0:
        issues.append(Issue(f"{path}.hours", "negative_hours"))
    for hours in {total, sum(areas.values()), sum(forms.values())}:
        if hours > spec.max_hours_per_day:
            issues.append(Issue(f"{path}.hours", "day_over_limit",
                                {"limit": _hours(spec.max_hours_per_day), "hours": _hours(hours)}))
            break
    for name, parts in (("areas", areas), ("forms", forms)):
        if not issues and abs(sum(parts.values()) - total) > spec.tolerance_hours:
            issues.append(Issue(f"{path}.{name}", f"{name}_mismatch",
                                {"sum": _hours(sum(parts.values())), "total": _hours(total)}))
    comment = str(raw.get("comment") or "").strip()[:2000] if spec.day_comment else ""
    return {"hours": total, "areas": areas, "forms": forms, "comment": comment}, issues


def missing_days(spec: LogbookSpec, days: list[Any]) -> list[int]:
    """0-based indices of logbook days not yet filled in."""
    return [i for i in range(spec.days) if i >= len(days) or not days[i]]
