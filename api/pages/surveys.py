"""The respondent's pages: a personal survey link (``/s/{token}``) opens the mapping, no sign-in needed.

The signed link is the key. Answers are saved and resumed, sent for good, and a
logbook is filled in one day at a time. Every change goes through
``surveys.respond``; a refusal (``SurveyRefused``) comes back as the same page
with the reasons beside the fields, in the respondent's language, and with what
they typed kept. Once the survey has closed (or the answers are sent) the link
still shows the respondent's own answers and lets them download them as CSV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response as HttpResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.deps import SessionDep
from api.pages.render import LANG_COOKIE, FormDep, PageRoute, render_page, see_other
from chefoskop import clock
from chefoskop.i18n import SUPPORTED_LOCALES, normalise_locale
from surveys.errors import Issue, SurveyRefused
from surveys.own import own_answers, own_answers_csv
from surveys.respond import Respondent, open_link, save_answers, save_logbook_day, submit_answers

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Token = Annotated[str, Path(min_length=8, max_length=400, pattern=r"^[A-Za-z0-9_.\-]+$")]
DayNo = Annotated[int, Path(ge=1, le=10)]
ITEM = "i_"
MAX_VALUE = 20000


@dataclass(frozen=True)
class _Person:
    locale: str


@dataclass(frozen=True)
class _Reader:
    """Stands in for a signed-in person so the page speaks the respondent's language."""

    person: _Person


def _speak(request: Request, view: Respondent | None) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    lang = chosen if chosen in SUPPORTED_LOCALES else normalise_locale(view.locale if view else "sv")
    request.state.principal = _Reader(_Person(lang))
    return lang


def _open(db: Session, request: Request, token: str) -> Respondent | Response:
    try:
        return open_link(db, token)
    except SurveyRefused as exc:
        lang = _speak(request, None)
        return render_page(request, "survey_refused.html", status=404, message=exc.message(lang))


def _field_errors(exc: SurveyRefused, lang: str) -> tuple[dict[str, str], str]:
    """Reasons per form field name, and the message for the whole page."""
    errors: dict[str, str] = {}
    for path, text in exc.messages(lang).items():
        if path.startswith("items."):
            errors[ITEM + path.removeprefix("items.")] = text
        elif path.startswith("days["):
            tail = path.split("]", 1)[1].lstrip(".")
            name = {"hours": "hours", "areas": "areas", "forms": "forms"}.get(tail)
            if name is None and "." in tail:
                split, key = tail.split(".", 1)
                name = f"{split[0]}_{key}"
            errors[name or ""] = text
    return errors, exc.message(lang)


def _not_finite(value: str) -> bool:
    try:
        return not math.isfinite(float(value.strip().replace(",", ".")))
    except ValueError:
        return False


def _guard(values: dict[str, str], path_of, kept: dict) -> None:
    """Refuse numbers such as "nan" or "1e400" here, as the answer checks expect finite numbers."""
    issues = [Issue(path_of(name), "not_a_number") for name, value in values.items() if _not_finite(value)]
    if issues:
        raise SurveyRefused("invalid_answers", issues=issues, kept=kept)


def _day_path(day: int, name: str) -> str:
    if name.startswith(("a_", "f_")):
        return f"days[{day}].{'areas' if name[0] == 'a' else 'forms'}.{name[2:]}"
    return f"days[{day}].{name}"


def _item_values(view: Respondent) -> dict[str, str]:
    items = view.answers.get("items") or {}
    return {ITEM + k: "" if v is None else str(v) for k, v in items.items()}


def _day_values(view: Respondent, day: int) -> dict[str, str]:
    days = view.answers.get("days") or []
    saved = days[day] if day < len(days) and days[day] else None
    if not saved:
        return {}
    values = {"hours": f"{saved['hours']:g}", "comment": saved.get("comment", "")}
    for split in ("areas", "forms"):
        values.update({f"{split[0]}_{k}": f"{v:g}" for k, v in saved[split].items()})
    return values


def _days_done(view: Respondent) -> list[bool]:
    spec = view.instrument.logbook
    days = view.answers.get("days") or []
    return [i < len(days) and bool(days[i]) for i in range(spec.days)] if spec else []


def _page(request: Request, db: Session, token: str, *, status: int = 200, values: dict | None = None,
          errors: dict | None = None, error: str | None = None, day: int | None = None) -> Response:
    view = _open(db, request, token)
    if isinstance(view, Response):
        return view
    lang = _speak(request, view)
    now = clock.now()
    spec = view.instrument.logbook
    if day is not None and (spec is None or day >= spec.days):
        return render_page(request, "survey_refused.html", status=404,
                           message=SurveyRefused("unknown_day", day=day + 1).message(lang))
    shown = _item_values(view) if day is None else _day_values(view, day)
    if values is not None:
        shown.update(values)
    context: dict[str, Any] = {
        "view": view, "token": token, "instrument": view.instrument, "role": view.role,
        "values": shown, "errors": errors or {}, "error": error, "can_answer": view.can_answer(now),
        "title": view.instrument.title.get(lang), "day": day, "days_done": _days_done(view),
        "done": request.query_params.get("done"), "prefix": ITEM,
    }
    if not context["can_answer"]:
        context["own"] = own_answers(db, token, lang)
    return render_page(request, "survey_day.html" if day is not None else "survey_respond.html",
                       status=status, **context)


def _refused(request: Request, db: Session, token: str, exc: SurveyRefused, typed: dict,
             day: int | None = None) -> Response:
    db.rollback()
    lang = _speak(request, None)
    view = _open(db, request, token)
    if isinstance(view, Response):
        return view
    lang = _speak(request, view)
    errors, general = _field_errors(exc, lang)
    status = 422 if exc.code in ("invalid_answers", "days_missing") else 409
    return _page(request, db, token, status=status, values=typed, errors=errors, error=general, day=day)


@router.get("/s/{token}")
def respond_page(token: Token, request: Request, db: SessionDep) -> Response:
    """The mapping behind a personal link: the form, or the answers once sent or closed."""
    return _page(request, db, token)


@router.post("/s/{token}")
def save(token: Token, request: Request, db: SessionDep, form: FormDep) -> Response:
    """Save the answers (``action=save``) or save and send them for good (``action=submit``)."""
    view = _open(db, request, token)
    if isinstance(view, Response):
        return view
    typed = {k: v[:MAX_VALUE] for k, v in form.items() if k.startswith(ITEM)}
    items = {k.removeprefix(ITEM): v for k, v in typed.items()}
    submit = form.get("action") == "submit"
    try:
        _guard(typed, lambda name: "items." + name.removeprefix(ITEM), {"items": items})
        if items or not submit:
            save_answers(db, token, items, clock.now(), submit=submit)
        else:
            submit_answers(db, token, clock.now())
    except SurveyRefused as exc:
        return _refused(request, db, token, exc, typed)
    return see_other(f"/s/{token}?done={'submitted' if submit else 'saved'}")


@router.get("/s/{token}/day/{day_no}")
def day_page(token: Token, day_no: DayNo, request: Request, db: SessionDep) -> Response:
    """One logbook day (1-based), with what was saved for it."""
    return _page(request, db, token, day=day_no - 1)


@router.post("/s/{token}/day/{day_no}")
def save_day(token: Token, day_no: DayNo, request: Request, db: SessionDep, form: FormDep) -> Response:
    """Save one logbook day; the hours by area and by form must each add up to the day's hours."""
    view = _open(db, request, token)
    if isinstance(view, Response):
        return view
    typed = {k: v[:MAX_VALUE] for k, v in form.items()
             if k in ("hours", "comment") or k.startswith(("a_", "f_"))}
    entry = {"hours": typed.get("hours", ""), "comment": typed.get("comment", ""),
             "areas": {k[2:]: v for k, v in typed.items() if k.startswith("a_")},
             "forms": {k[2:]: v for k, v in typed.items() if k.startswith("f_")}}
    try:
        _guard(typed, lambda name: _day_path(day_no - 1, name), {"days": {str(day_no - 1): entry}})
        save_logbook_day(db, token, day_no - 1, entry, clock.now())
    except SurveyRefused as exc:
        return _refused(request, db, token, exc, typed, day=day_no - 1)
    return see_other(f"/s/{token}?done=day_saved")


@router.get("/s/{token}/answers.csv")
def own_csv(token: Token, request: Request, db: SessionDep) -> Response:
    """The respondent's own answers as a CSV file."""
    view = _open(db, request, token)
    if isinstance(view, Response):
        return view
    text = own_answers_csv(db, token, _speak(request, view))
    return HttpResponse("\ufeff" + text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="mina-svar.csv"',
                                 "Cache-Control": "no-store"})
