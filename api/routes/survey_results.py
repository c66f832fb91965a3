"""Results of the three mappings over the API: published results, response rates, downloads.

The same rules as the processledare's pages (``api/pages/survey_admin.py``): only
people running the process (processledare, processägare) reach these routes
(``access.managed_process``: another organisation's process, or one the viewer
takes no part in, is 404; a visible process the viewer does not run is 403).
Results exist once a mapping has closed (409 before). Every read of results goes
through ``surveys.results`` / ``surveys.report``, which log it with the viewer's
id, exactly as the pages do. Nothing here shows a group below the anonymity
threshold: results are the published document (hidden cells carry no numbers),
and the live response rates are ``surveys.distribution.published_rates``, the
same rule applied to the answered counts (as the processledare's page shows them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import managed_process
from api.deps import LocaleDep, PathId, SessionDep, ViewerDep
from api.problems import ApiProblem, not_found
from api.routing import api_router
from chefoskop import clock
from chefoskop.i18n import gettext
from models import Survey
from models.schemas.common import OutModel
from roles.permissions import Viewer
from surveys.distribution import MAPPING_OF_STEP, published_rates
from surveys.errors import SurveyRefused
from surveys.loader import from_document
from surveys.report import build_report, closed_surveys, report_filename
from surveys.report_view import section_of, shown_cell
from surveys.results import results_csv, survey_results
from surveys.schema import Instrument

router = api_router("surveys")
PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"
HiddenBecause = Literal["few", "protects"]


# --- response models -------------------------------------------------------------------------

class SurveyOut(OutModel):
    """One round of a mapping (Kartläggning 1-3) of a process."""

    id: int
    process_id: int
    step_no: int = Field(description="4, 5 or 6")
    mapping: int = Field(description="1, 2 or 3")
    round: int
    status: str = Field(description="open or closed")
    title: str
    closes_at: datetime
    closed_at: datetime | None = None
    results_available: bool = Field(description="Closed: its results can be read.")


class RateCell(OutModel):
    """Invited, answered and the share answered."""

    invited: int
    answered: int
    rate: float = Field(ge=0, le=1)


class GroupRateOut(OutModel):
    """A mapping group's response rate; a hidden group carries no numbers."""

    key: str
    name: str
    kind: str = Field(description="managers or management (top management)")
    shown: bool
    invited: int | None = None
    answered: int | None = None
    rate: float | None = Field(default=None, ge=0, le=1)
    hidden_because: HiddenBecause | None = Field(
        default=None, description="few: fewer answers than the threshold; protects: hidden so that a "
        "smaller group cannot be worked out from the others")


class ResponseRatesOut(OutModel):
    """Live response rates of a mapping, per group and for all managers, under the threshold rule."""

    survey_id: int
    status: str
    threshold: int
    overall: RateCell | None = Field(description="All managers; null when fewer than the threshold answered.")
    groups: list[GroupRateOut]


class DistributionEntry(OutModel):
    """How many chose one answer (a scale point or an option)."""

    value: str
    label: str
    count: int = Field(ge=0)


class ResultCell(OutModel):
    """One published cell: at least the threshold of answers."""

    n: int = Field(description="How many answered the question in this column.")
    mean: float | None = None
    median: float | None = Field(default=None, description="Number questions.")
    favourable: float | None = Field(default=None, description="The mean counted so that high is "
                                     "favourable (Likert); what the strengths rule compares.")
    distribution: list[DistributionEntry] | None = None


class GroupCellOut(OutModel):
    """One manager group's cell of a question; null where the group is hidden."""

    key: str
    name: str
    cell: ResultCell | None


class ItemResultOut(OutModel):
    """One question's published results."""

    key: str
    kind: str = Field(description="likert, single_choice or number")
    section: str
    text: str
    polarity: str | None = Field(default=None, description="positive, or negative: a low value is favourable")
    scale_low: int | None = None
    scale_high: int | None = None
    overall: ResultCell | None
    groups: list[GroupCellOut]
    management: ResultCell | None = Field(description="Top management (mapping 3), when shown.")


class ParticipationGroupOut(OutModel):
    """A group's participation at the close; a hidden group carries no numbers."""

    key: str
    name: str
    kind: str
    shown: bool
    invited: int | None = None
    answered: int | None = None
    rate: float | None = Field(default=None, ge=0, le=1)
    hidden_because: HiddenBecause | None = None


class ParticipationOut(OutModel):
    """Participation at the close, for all managers and per group."""

    overall: RateCell | None
    groups: list[ParticipationGroupOut]


class FindingsOut(OutModel):
    """Strengths and development areas (item keys) for all managers or one shown group."""

    where: str = Field(description="overall, or a group's key")
    name: str
    strengths: list[str]
    development_areas: list[str]


class ShareOut(OutModel):
    """One area's or form's share of the logged hours."""

    key: str
    label: str
    share: float = Field(ge=0, le=1)


class TimeUseCell(OutModel):
    """Time use of all managers or one shown group."""

    n: int
    days: int
    hours_per_day: float
    areas: list[ShareOut]
    forms: list[ShareOut]


class TimeUseGroupOut(OutModel):
    """A manager group's time use; null where the group is hidden."""

    key: str
    name: str
    cell: TimeUseCell | None


class TimeUseOut(OutModel):
    """The logbook's time use (mapping 2)."""

    overall: TimeUseCell | None
    groups: list[TimeUseGroupOut]


class RuleOut(OutModel):
    """The strengths and development areas rule, in scale points."""

    middle_margin: float
    average_margin: float


class SurveyResultsOut(OutModel):
    """A closed mapping's published results: what the results report shows, as data."""

    survey: SurveyOut
    previous_survey_id: int | None = Field(
        description="The round this one is compared with in the report (a re-run), if any.")
    threshold: int
    rule: RuleOut
    org_average: float | None = Field(description="All managers' mean favourable score over the Likert "
                                      "questions; null when all managers are hidden.")
    participation: ParticipationOut
    items: list[ItemResultOut]
    findings: list[FindingsOut]
    time_use: TimeUseOut | None = None


# --- building the bodies -----------------------------------------------------------------------

def _managed_survey(db: Session, viewer: Viewer, survey_id: int) -> Survey:
    """A survey of a process the viewer runs: 404 if missing or not visible, 403 if not theirs to run."""
    survey = db.get(Survey, survey_id)
    if survey is None:
        raise not_found()
    managed_process(db, viewer, survey.process_id)
    return survey


def _not_closed() -> ApiProblem:
    return ApiProblem(409, "illegal_transition", params={"reason": "not_closed"})


def _survey_out(survey: Survey, locale: str) -> SurveyOut:
    return SurveyOut(id=survey.id, process_id=survey.process_id, step_no=survey.step_no,
                     mapping=MAPPING_OF_STEP[survey.step_no], round=survey.round, status=survey.status,
                     title=from_document(survey.instrument).title.get(locale), closes_at=survey.closes_at,
                     closed_at=survey.closed_at, results_available=survey.status == "closed")


def _labels(instrument: Instrument, key: str, locale: str) -> dict[str, str]:
    item = instrument.item(key)
    if item.kind == "likert":
        return {str(p.value): p.label.get(locale) for p in instrument.scale(item.scale).points}
    if item.kind == "single_choice":
        return {o.value: o.label.get(locale) for o in item.options}
    return {}


def _cell(raw: dict | None, threshold: int, labels: dict[str, str]) -> ResultCell | None:
    cell = shown_cell(raw, threshold)  # published cells only, never one under the threshold
    if cell is None:
        return None
    distribution = None
    if "distribution" in cell:
        distribution = [DistributionEntry(value=value, label=labels.get(value, value), count=count)
                        for value, count in cell["distribution"].items()]
    return ResultCell(n=cell["n"], mean=cell.get("mean"), median=cell.get("median"),
                      favourable=cell.get("favourable"), distribution=distribution)


def _rate(raw: dict | None) -> RateCell | None:
    return None if raw is None else RateCell(invited=raw["invited"], answered=raw["n"], rate=raw["rate"])


def _time_use(instrument: Instrument, data: dict | None, names: dict[str, str], threshold: int,
              locale: str) -> TimeUseOut | None:
    if not data:
        return None
    spec = instrument.logbook

    def cell(raw: dict | None) -> TimeUseCell | None:
        if raw is None or raw["n"] < threshold:
            return None
        def shares(split: str, cats) -> list[ShareOut]:
            return [ShareOut(key=c.key, label=c.label.get(locale), share=raw[split][c.key]) for c in cats]

        return TimeUseCell(n=raw["n"], days=raw["days"], hours_per_day=raw["hours_per_day"],
                           areas=shares("areas", spec.areas), forms=shares("forms", spec.forms))

    return TimeUseOut(overall=cell(data["overall"]),
                      groups=[TimeUseGroupOut(key=k, name=names.get(k, k), cell=cell(raw))
                              for k, raw in data["groups"].items()])


def results_body(db: Session, survey: Survey, data: dict, locale: str) -> SurveyResultsOut:
    """The published results document ``data`` of ``survey`` as the API's body, texts in ``locale``."""
    instrument = from_document(survey.instrument)
    threshold = data["threshold"]
    groups = data["participation"]["groups"]
    names = {g["key"]: g["name"] for g in groups}
    items = []
    for entry in data["items"]:
        item = instrument.item(entry["key"])
        labels = _labels(instrument, item.key, locale)
        scale = instrument.scale(item.scale) if item.kind == "likert" else None
        items.append(ItemResultOut(
            key=item.key, kind=item.kind, section=section_of(instrument, item).title.get(locale),
            text=item.text.get(locale), polarity=item.polarity if item.kind == "likert" else None,
            scale_low=scale.low if scale else None, scale_high=scale.high if scale else None,
            overall=_cell(entry["overall"], threshold, labels),
            groups=[GroupCellOut(key=k, name=names.get(k, k), cell=_cell(raw, threshold, labels))
                    for k, raw in entry["groups"].items()],
            management=_cell(entry["management"], threshold, labels)))
    names_of = {"overall": gettext(locale, "All managers"), **names}
    findings = [FindingsOut(where=where, name=names_of.get(where, where),
                            strengths=list(found.get("strength", [])),
                            development_areas=list(found.get("development", [])))
                for where, found in data["findings"].items()]
    participation = ParticipationOut(overall=_rate(data["participation"]["overall"]), groups=[
        ParticipationGroupOut(key=g["key"], name=g["name"], kind=g["kind"], shown=g["shown"],
                              invited=g.get("invited") if g["shown"] else None,
                              answered=g.get("n") if g["shown"] else None,
                              rate=g.get("rate") if g["shown"] else None,
                              hidden_because=None if g["shown"] else g.get("hidden_because", "few"))
        for g in groups])
    # The round before this one (newest first, then the rounds of the process this one re-runs).
    ids = [s.id for s in closed_surveys(db, survey.process_id, survey.step_no)]
    later = ids[ids.index(survey.id) + 1:] if survey.id in ids else []
    previous = later[0] if later else None
    return SurveyResultsOut(
        survey=_survey_out(survey, locale), previous_survey_id=previous, threshold=threshold,
        rule=RuleOut(**data["rule"]), org_average=data["org_average"], participation=participation,
        items=items, findings=findings,
        time_use=_time_use(instrument, data.get("time_use"), names, threshold, locale))


def rates_body(survey: Survey, live: dict) -> ResponseRatesOut:
    """The live response rates ``live`` (``distribution.published_rates``: the results' rule
    applied to the answered counts) as the API's body."""
    part = live["participation"]
    groups = [GroupRateOut(key=g["key"], name=g["name"], kind=g["kind"], shown=g["shown"],
                           invited=g.get("invited") if g["shown"] else None,
                           answered=g.get("n") if g["shown"] else None,
                           rate=g.get("rate") if g["shown"] else None,
                           hidden_because=None if g["shown"] else g.get("hidden_because", "few"))
              for g in part["groups"]]
    return ResponseRatesOut(survey_id=survey.id, status=survey.status, threshold=live["threshold"],
                            overall=_rate(part["overall"]), groups=groups)


# --- routes ------------------------------------------------------------------------------------

def _file_doc(media_type: str) -> dict:
    return {200: {"content": {media_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}},
                  "description": "The file."}}


def _file(content: bytes | str, media_type: str, name: str) -> Response:
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/processes/{process_id}/surveys", response_model=list[SurveyOut])
def list_surveys(process_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> list[SurveyOut]:
    """The mappings sent out in a process, every round, by step; for those running the process."""
    process, _facts = managed_process(db, viewer, process_id)
    rows = db.scalars(select(Survey).where(Survey.process_id == process.id)
                      .order_by(Survey.step_no, Survey.round, Survey.id))
    return [_survey_out(s, locale) for s in rows]


@router.get("/surveys/{survey_id}/results", response_model=SurveyResultsOut)
def read_results(survey_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> SurveyResultsOut:
    """A closed mapping's published results (409 while it is open). No group under the anonymity
    threshold is shown, nor one that could be worked out from the others. The read is logged."""
    survey = _managed_survey(db, viewer, survey_id)
    try:
        data = survey_results(db, survey.id, viewer_id=viewer.person_id, actor_label="person",
                              purpose="data", locale=locale)
    except SurveyRefused:
        raise _not_closed() from None
    return results_body(db, survey, data, locale)


@router.get("/surveys/{survey_id}/response-rates", response_model=ResponseRatesOut)
def read_response_rates(survey_id: PathId, db: SessionDep, viewer: ViewerDep) -> ResponseRatesOut:
    """Response rates per mapping group, live while the mapping is open. A group with fewer answers
    than the anonymity threshold (or one that would let such a group be worked out) shows no numbers."""
    survey = _managed_survey(db, viewer, survey_id)
    return rates_body(survey, published_rates(db, survey.id))


@router.get("/surveys/{survey_id}/results.csv", response_class=Response, responses=_file_doc(CSV))
def results_file(survey_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> Response:
    """A closed mapping's results as CSV (one row per question and group; hidden groups carry a
    marker, never a number). The read is logged."""
    survey = _managed_survey(db, viewer, survey_id)
    try:
        text = results_csv(db, survey.id, viewer_id=viewer.person_id, actor_label="person", locale=locale)
    except SurveyRefused:
        raise _not_closed() from None
    name = f"chefoskop-kartlaggning-{MAPPING_OF_STEP[survey.step_no]}-{survey.id}.csv"
    return _file("\ufeff" + text, CSV, name)


@router.get("/processes/{process_id}/report.pdf", response_class=Response, responses=_file_doc(PDF))
def report_pdf(process_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> Response:
    """The Dela värld results report of a process as PDF (every closed mapping). Each mapping's
    read is logged."""
    process, _facts = managed_process(db, viewer, process_id)
    report = build_report(db, process.id, locale=locale, viewer_id=viewer.person_id)
    return _file(report.pdf, PDF, report_filename(process, clock.now()))
