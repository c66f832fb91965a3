"""Reading the plan pages' forms into engine arguments, with the errors the engine cannot name."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Request

from api.deps import FORM_TYPES
from flows import engine
from flows.engine.followup import ANSWERS

MAX_TEXT = 10000
ACTION_FIELDS = ("development_area", "goal", "expected_effect", "description", "responsible_id",
                 "start_date", "end_date", "cost_estimate", "follow_up_date")
RISK_ROWS = 3
REVIEW_FIELDS = ("carried_out", "intended_effect", "served_goals", "learned", "other_effects")


def text(form: dict[str, str], name: str, limit: int = MAX_TEXT) -> str:
    """A trimmed text field, cut to ``limit``."""
    return form.get(name, "").strip()[:limit]


def lines(form: dict[str, str], name: str) -> list[str]:
    """A textarea's non-empty lines."""
    return [line.strip()[:200] for line in form.get(name, "").splitlines() if line.strip()][:200]


def a_date(form: dict[str, str], name: str, errors: dict[str, str], *, required: bool = True) -> date | None:
    """A date field; a missing or unreadable one is named in ``errors``."""
    raw = form.get(name, "").strip()
    if not raw:
        if required:
            errors[name] = "required"
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "not_a_date"
        return None


def an_id(form: dict[str, str], name: str) -> int | None:
    """A positive id within PostgreSQL's INTEGER, else None."""
    raw = form.get(name, "").strip()
    return int(raw) if raw.isdigit() and 0 < len(raw) < 10 and int(raw) > 0 else None


def action_input(form: dict[str, str], people_ids: set[int]) -> tuple[engine.ActionFields | None, dict]:
    """The add-action form as engine fields, or the errors that stop it (all named at once)."""
    errors: dict[str, str] = {}
    for name in ("development_area", "goal", "description"):
        if not text(form, name):
            errors[name] = "required"
    responsible = an_id(form, "responsible_id")
    if responsible is None or responsible not in people_ids:
        errors["responsible_id"] = "required" if not form.get("responsible_id") else "not_found"
    start, end = a_date(form, "start_date", errors), a_date(form, "end_date", errors)
    follow_up = a_date(form, "follow_up_date", errors, required=False)
    if start and end and end < start:
        errors["end_date"] = "before_start"
    cost = None
    raw_cost = form.get("cost_estimate", "").strip().replace(" ", "").replace(",", ".")
    if raw_cost:
        try:
            cost = float(raw_cost)
            if not (0 <= cost <= 1e12):
                errors["cost_estimate"] = "out_of_range"
        except ValueError:
            errors["cost_estimate"] = "not_a_number"
    if errors:
        return None, errors
    return engine.ActionFields(
        development_area=text(form, "development_area", 300), goal=text(form, "goal"),
        description=text(form, "description"), responsible_id=responsible, start_date=start,
        end_date=end, expected_effect=text(form, "expected_effect"), cost_estimate=cost,
        follow_up_date=follow_up), {}


def _grade(form: dict[str, str], name: str, errors: dict[str, str], key: str) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if raw.isdigit() and 1 <= int(raw) <= 5:
        return int(raw)
    errors[key] = "out_of_range"
    return None


def risk_input(form: dict[str, str]) -> tuple[dict, dict[str, str], list[int]]:
    """The risk-assessment form as engine arguments (rows with a risk named), local errors, and the
    form row of each risk passed on."""
    errors: dict[str, str] = {}
    risks, rows = [], []
    for i in range(RISK_ROWS):
        risk = text(form, f"risk_{i}", 1000)
        likelihood = _grade(form, f"likelihood_{i}", errors, f"likelihood_{i}")
        consequence = _grade(form, f"consequence_{i}", errors, f"consequence_{i}")
        if risk:
            rows.append(i)
            risks.append({"risk": risk, "likelihood": likelihood, "consequence": consequence,
                          "measure": text(form, f"measure_{i}", 2000)})
        elif likelihood or consequence or text(form, f"measure_{i}"):
            errors[f"risk_{i}"] = "required"
    return {"risks": risks, "participants": lines(form, "participants"),
            "safety_representative": text(form, "safety_representative", 200),
            "conclusion": text(form, "conclusion")}, errors, rows


def risk_field(key: str, rows: list[int]) -> str:
    """The form field of an engine error key ('risks.1.likelihood' -> 'likelihood_<row>')."""
    parts = key.split(".")
    if parts[0] == "risks" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
        return f"{parts[2]}_{rows[int(parts[1])]}"
    return key


def review_input(form: dict[str, str], action_ids: list[int]) -> list[engine.ReviewFields]:
    """One review per action shown in the meeting form (answers kept as given for the engine to check)."""
    reviews = []
    for action_id in action_ids:
        answers = {q: text(form, f"{q}_{action_id}") for q in REVIEW_FIELDS}
        for q in ("carried_out", "intended_effect", "served_goals"):
            if answers[q] not in ANSWERS:
                answers[q] = ""
        reviews.append(engine.ReviewFields(action_id=action_id, **answers))
    return reviews


def review_field(key: str, action_ids: list[int]) -> str:
    """The form field of an engine error key ('reviews.0.learned' -> 'learned_<action id>')."""
    parts = key.split(".")
    if parts[0] == "reviews" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(action_ids):
        return f"{parts[2]}_{action_ids[int(parts[1])]}"
    return key


def action_values(action) -> dict[str, str]:
    """An action's stored content as the change form shows it (every field as text)."""
    values = {}
    for name in ACTION_FIELDS:
        value = getattr(action, name)
        if value is None:
            values[name] = ""
        elif isinstance(value, date):
            values[name] = value.isoformat()
        elif isinstance(value, float):
            values[name] = f"{value:.2f}".rstrip("0").rstrip(".")
        else:
            values[name] = str(value)
    return values


async def participant_choices(request: Request) -> list[str]:
    """Every ``participant_ids`` value of a posted form (checkboxes and a multiple select);
    starlette keeps the form ``read_form`` parsed, so the body is read once."""
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return []
    try:
        form = await request.form()
    except Exception:  # a malformed body: read_form answers it with a 400 page
        return []
    return [v for v in form.getlist("participant_ids") if isinstance(v, str)][:1000]


ParticipantsDep = Annotated[list[str], Depends(participant_choices)]


def meeting_input(form: dict[str, str], chosen: list[str], people_ids: set[int],
                  errors: dict[str, str]) -> tuple[date | None, list[int], str | None]:
    """The schedule form as the engine's date, participant ids and location; local errors named."""
    on = a_date(form, "meeting_on", errors)
    ids: list[int] = []
    for raw in chosen:
        raw = raw.strip()
        if not (raw.isdigit() and 0 < len(raw) < 10 and int(raw) in people_ids):
            errors["participant_ids"] = "not_found"
            continue
        ids.append(int(raw))
    location = text(form, "meeting_location", 200) or None
    return on, sorted(set(ids)), location
