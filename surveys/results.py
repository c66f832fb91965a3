"""The results path: published results of a closed mapping, the CSV export, the access log.

Reads only what results need: each submitted response's group id and answers,
and the number invited per group. It never reads a person, an invitation's
secret or a respondent key, so no result can be joined back to a person. Every
read through ``survey_results``/``results_csv`` (and the report) is logged in
``survey_result_access``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from chefoskop import clock
from chefoskop.i18n import format_number, format_percent, gettext
from models import Organisation, Process, Response, ResultAccess, Survey
from surveys.aggregate import GroupInfo, summarise
from surveys.anonymity import effective_threshold
from surveys.errors import SurveyRefused
from surveys.groups import groups_with_invited, scope_process_id
from surveys.loader import from_document
from surveys.report_view import hidden_marker
from surveys.schema import Instrument


def threshold_of(session: Session, organisation_id: int) -> int:
    """The anonymity threshold in force for an organisation."""
    return effective_threshold(session.get(Organisation, organisation_id).anonymity_threshold)


def set_anonymity_threshold(session: Session, organisation_id: int, value: int) -> int:
    """Raise an organisation's anonymity threshold; lowering it is refused. Flushes."""
    current = threshold_of(session, organisation_id)
    if value < current:
        raise SurveyRefused("threshold_lowered", current=current)
    session.get(Organisation, organisation_id).anonymity_threshold = value
    session.flush()
    return value


# The statements of ``compute_results``, built once (they only differ by the survey id).
_SURVEY = (select(Survey.id, Survey.process_id, Survey.step_no, Survey.round, Survey.status,
                  Survey.closes_at, Survey.closed_at, Survey.instrument,
                  Organisation.anonymity_threshold, Process.previous_process_id)
           .join(Organisation, Organisation.id == Survey.organisation_id)
           .join(Process, Process.id == Survey.process_id)
           .where(Survey.id == bindparam("survey_id")))
_ANSWERS = select(Response.group_id, Response.answers).where(
    Response.survey_id == bindparam("survey_id"), Response.status == "submitted")


def compute_results(session: Session, survey_id: int) -> dict[str, Any]:
    """Aggregate a survey's submitted answers into published results (no access logged)."""
    if session.autoflush:
        session.flush()  # as an ORM query would, so pending changes are read too
    conn = session.connection()  # Core reads: plain rows, no ORM entities (a third of the time)
    survey = conn.execute(_SURVEY, {"survey_id": survey_id}).one()
    instrument = from_document(survey.instrument)
    scope = (survey.process_id if survey.previous_process_id is None
             else scope_process_id(session, survey.process_id))
    groups = groups_with_invited(conn, scope, survey_id)
    key_of = {g.id: g.key for g in groups}
    rows = [(key_of[group_id], answers)
            for group_id, answers in conn.execute(_ANSWERS, {"survey_id": survey_id})]
    answered = Counter(group for group, _ in rows)
    # Only groups this survey invited (as its response rates show them).
    infos = [GroupInfo(g.key, g.name, g.kind, g.invited, answered[g.key])
             for g in groups if g.invited]
    doc = summarise(instrument, infos, rows, effective_threshold(survey.anonymity_threshold))
    doc["survey"] = {"id": survey.id, "process_id": survey.process_id, "step_no": survey.step_no,
                     "round": survey.round, "status": survey.status,
                     "closes_at": survey.closes_at.isoformat(),
                     "closed_at": survey.closed_at.isoformat() if survey.closed_at else None}
    return doc


def published_results(session: Session, survey_id: int) -> dict[str, Any]:
    """The stored results of the aggregation flow when still current, else freshly computed."""
    survey = session.get(Survey, survey_id)
    stored = survey.results
    if stored and stored.get("threshold") == threshold_of(session, survey.organisation_id):
        return stored
    return compute_results(session, survey_id)


def log_access(session: Session, survey: Survey, *, viewer_id: int | None, actor_label: str,
               purpose: str, locale: str) -> None:
    """Record one read of a survey's results."""
    session.add(ResultAccess(at=clock.now(), organisation_id=survey.organisation_id,
                             process_id=survey.process_id, survey_id=survey.id, viewer_id=viewer_id,
                             actor_label=actor_label, purpose=purpose, locale=locale))
    session.flush()


def survey_results(session: Session, survey_id: int, *, viewer_id: int | None = None,
                   actor_label: str = "person", purpose: str = "data",
                   locale: str = "sv") -> dict[str, Any]:
    """A closed survey's published results (the API-level structure); the read is logged."""
    survey = session.get(Survey, survey_id)
    if survey is None or survey.status != "closed":
        raise SurveyRefused("not_closed")
    log_access(session, survey, viewer_id=viewer_id, actor_label=actor_label, purpose=purpose,
               locale=locale)
    return published_results(session, survey_id)


def _distribution_text(instrument: Instrument, entry: dict, cell: dict, locale: str) -> str:
    item = instrument.item(entry["key"])
    if item.kind == "likert":
        labels = {str(p.value): p.label.get(locale) for p in instrument.scale(item.scale).points}
    elif item.kind == "single_choice":
        labels = {o.value: o.label.get(locale) for o in item.options}
    else:
        return ""
    return "; ".join(f"{labels[k]}: {v}" for k, v in cell["distribution"].items())


def _csv_cell(instrument: Instrument, entry: dict, cell: dict | None, locale: str,
              hidden: str) -> list[str]:
    if cell is None:
        return ["", "", hidden]
    mean = format_number(round(cell["mean"], 2), locale) if "mean" in cell else ""
    return [str(cell["n"]), mean, _distribution_text(instrument, entry, cell, locale)]


def results_csv(session: Session, survey_id: int, *, viewer_id: int | None = None,
                actor_label: str = "person", locale: str = "sv") -> str:
    """The published results as CSV (one row per question and group); the read is logged."""
    data = survey_results(session, survey_id, viewer_id=viewer_id, actor_label=actor_label,
                          purpose="csv", locale=locale)
    instrument = from_document(session.get(Survey, survey_id).instrument)
    names = {g["key"]: g["name"] for g in data["participation"]["groups"]}
    hidden = gettext(locale, "hidden")  # too few answers to this question, or protecting another group
    markers = {g["name"]: hidden_marker(g["hidden_because"], data["threshold"], locale)
               for g in data["participation"]["groups"] if not g["shown"]}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([gettext(locale, "Question"), gettext(locale, "Text"), gettext(locale, "Group"),
                     gettext(locale, "Answers"), gettext(locale, "Mean"),
                     gettext(locale, "Distribution")])
    for entry in data["items"]:
        text = instrument.item(entry["key"]).text.get(locale)
        cells = [(gettext(locale, "All managers"), entry["overall"])]
        cells += [(names[k], cell) for k, cell in entry["groups"].items()]
        if entry["management"] is not None or data["survey"]["step_no"] == 6:
            cells.append((gettext(locale, "Top management"), entry["management"]))
        for group, cell in cells:
            writer.writerow([entry["key"], text, group,
                             *_csv_cell(instrument, entry, cell, locale, markers.get(group, hidden))])
    _time_use_rows(writer, instrument, data.get("time_use"), names,
                   lambda group: markers.get(group, hidden), locale)
    return out.getvalue()


def _time_use_rows(writer, instrument: Instrument, time_use: dict | None, names: dict,
                   marker, locale: str) -> None:
    if not time_use:
        return
    cells = [(gettext(locale, "All managers"), time_use["overall"])]
    cells += [(names[k], c) for k, c in time_use["groups"].items()]
    for split, cats in (("areas", instrument.logbook.areas), ("forms", instrument.logbook.forms)):
        for cat in cats:
            for group, cell in cells:
                value = ["", "", marker(group)] if cell is None else [
                    str(cell["n"]), "", format_percent(cell[split][cat.key], locale)]
                writer.writerow([f"{split}.{cat.key}", cat.label.get(locale), group, *value])
