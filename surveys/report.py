"""The results report for the Dela värld meeting: HTML and PDF (WeasyPrint), Swedish by default.

One report per process: each closed mapping (steps 4-6) with participation, the
means per question and group, single-choice shares, time use, strengths and
development areas with the rule that picked them, top management beside the
managers for mapping 3, before and after for a re-run, and questions for the
dialogue. Built only from published results; every read is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from chefoskop import clock
from chefoskop.i18n import N_, format_date, format_number, format_percent, gettext, normalise_locale
from models import Organisation, Process, Survey
from notifications.render import get_environment, template_context
from surveys import report_view as view
from surveys.aggregate import AVERAGE_MARGIN, MIDDLE_MARGIN
from surveys.loader import from_document
from surveys.results import survey_results, threshold_of

TEMPLATE = Path(__file__).resolve().parent / "templates" / "surveys" / "report.html"
MAPPING_STEPS = (4, 5, 6)
DIALOGUE_QUESTIONS = (
    N_("Where do the groups' pictures agree, and where do the three mappings point the same way?"),
    N_("Where do the pictures differ: between groups, and between the managers and top management?"),
    N_("Which strengths do we want to protect and build on?"),
    N_("Which results signal a risk to the managers' health or to the service?"),
    N_("Which development areas come first, what do we want to have reached, and who takes each on?"),
)


@dataclass(frozen=True)
class Report:
    """A rendered results report."""

    html: str
    pdf: bytes | None


@cache
def _template() -> Template:
    # The project's one environment; this package's template is read from its own folder.
    return get_environment().from_string(TEMPLATE.read_text(encoding="utf-8"))


def closed_surveys(session: Session, process_id: int, step_no: int) -> list[Survey]:
    """Closed rounds of one mapping, newest first, then those of the process this one re-runs."""
    found: list[Survey] = []
    current = session.get(Process, process_id)
    while current is not None:
        found += session.scalars(select(Survey).where(
            Survey.process_id == current.id, Survey.step_no == step_no, Survey.status == "closed")
            .order_by(Survey.round.desc())).all()
        current = session.get(Process, current.previous_process_id) if current.previous_process_id else None
    return found


def _rate(cell: dict | None, threshold: int, lang: str) -> str:
    if cell is None:
        return view.hidden_marker("few", threshold, lang)
    return gettext(lang, "%(answered)s of %(invited)s (%(rate)s)", answered=cell["n"],
                   invited=cell["invited"], rate=format_percent(cell["rate"], lang))


def _overview(instrument, results: dict, section: dict, lang: str) -> dict:
    """One mapping's line in the overview: response rate, findings for all managers, and the gist
    as (line, sub-lines) pairs."""
    threshold = results["threshold"]
    management = next((g for g in results["participation"]["groups"] if g["kind"] == "management"), None)
    found = results["findings"].get("overall", {"strength": [], "development": []})
    logbook = instrument.kind == "logbook"
    lines = []
    if management is not None:
        lines.append(gettext(lang, "Top management answered: %(rate)s",
                             rate=_rate(management if management["shown"] else None, threshold, lang)))
    if logbook:
        lines += view.time_use_summary(instrument, results, lang)
    else:
        for kind, msgid in (("strength", N_("Strength: %(question)s")),
                            ("development", N_("Development area: %(question)s"))):
            lines += [gettext(lang, msgid, question=view.in_context(instrument, instrument.item(k), lang)[1])
                      for k in found[kind]]
        gaps = view.largest_gaps(instrument, results, lang)
        if gaps:
            lines.append((gettext(lang, "Largest differences from top management:"), gaps))
    lines = [line if isinstance(line, tuple) else (line, []) for line in lines]
    return {"number": section["step_no"] - 3, "title": section["title"], "logbook": logbook,
            "rate": _rate(results["participation"]["overall"], threshold, lang),
            "strengths": None if logbook else len(found["strength"]),
            "developments": None if logbook else len(found["development"]), "lines": lines}


def _mapping(session: Session, surveys: list[Survey], lang: str, who: dict) -> dict:
    survey = surveys[0]
    instrument = from_document(survey.instrument)
    results = survey_results(session, survey.id, locale=lang, purpose="report", **who)
    section = {
        "step_no": survey.step_no, "round": survey.round, "title": instrument.title.get(lang),
        "logbook": instrument.kind == "logbook",
        "closed_on": format_date(survey.closed_at, lang, "long"),
        "participation": view.participation_rows(results, lang),
        "headings": [name for _, name in view.columns(results, lang)],
        "sections": view.question_sections(instrument, results, lang),
        "numbers": view.number_tables(instrument, results, lang),
        "choices": view.choice_tables(instrument, results, lang),
        "findings": view.findings_by_group(instrument, results, lang),
        "charts": view.mean_charts(instrument, results, lang),
        "distributions": view.distribution_charts(instrument, results, lang),
        "time_use": view.time_use(instrument, results, lang),
        "comparison": None,
    }
    section["overview"] = _overview(instrument, results, section, lang)
    if len(surveys) > 1:
        before = survey_results(session, surveys[1].id, locale=lang, purpose="report", **who)
        section["comparison"] = view.comparison(instrument, before, results, lang)
        section["compared_with"] = format_date(surveys[1].closed_at, lang, "long")
    return section


def report_context(session: Session, process_id: int, lang: str, who: dict) -> dict:
    """Everything the report template shows (access to each survey's results is logged)."""
    process = session.get(Process, process_id)
    org = session.get(Organisation, process.organisation_id)
    threshold = threshold_of(session, org.id)
    mappings = []
    for step_no in MAPPING_STEPS:
        surveys = closed_surveys(session, process_id, step_no)
        if surveys:
            mappings.append(_mapping(session, surveys, lang, who))
    rule = gettext(
        lang, "A question is a strength when its mean, counted so that a high value is always "
        "favourable, is at least %(middle)s above the middle of the scale and at least %(average)s "
        "above the organisation's average over all questions; a development area when it is as "
        "far below both.", middle=format_number(MIDDLE_MARGIN, lang),
        average=format_number(AVERAGE_MARGIN, lang))
    return {**template_context(lang), "organisation": org.name, "process": process.name,
            "generated": format_date(clock.now(), lang, "long"), "threshold": threshold,
            "rule": rule, "mappings": mappings,
            "questions": [gettext(lang, q) for q in DIALOGUE_QUESTIONS]}


def render_pdf(html: str) -> bytes:
    """The PDF of a rendered report."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def build_report(session: Session, process_id: int, *, locale: str = "sv",
                 viewer_id: int | None = None, actor_label: str = "person",
                 pdf: bool = True) -> Report:
    """The Dela värld results report of a process as HTML and (by default) PDF; reads are logged."""
    lang = normalise_locale(locale)
    who = {"viewer_id": viewer_id, "actor_label": actor_label}
    html = _template().render(report_context(session, process_id, lang, who))
    return Report(html=html, pdf=render_pdf(html) if pdf else None)


def report_filename(process: Process, when: datetime | None = None) -> str:
    """A file name for the report's PDF."""
    day = (when or clock.now()).date().isoformat()
    return f"chefoskop-resultat-{process.id}-{day}.pdf"
