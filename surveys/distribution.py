"""Sending a mapping out and following it: surveys, invitations, response rates, closing.

Opening step 4, 5 or 6 creates the step's survey (``open_survey``, called from the
``AFTER_OPEN`` hook in ``surveys.hooks``) and one invitation per first-line
manager (role ``chef``) and, for mapping 3 when chosen, per member of top
management (``ledning``). Every change here writes one audit event through the
engine's ``record`` and flushes; the caller commits. Closing completes the
respondents' engine tasks all at once, through the engine, so no task's time of
completion hints at who answered when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from chefoskop.settings import get_settings
from flows.calendar import add_working_days, local_date
from flows.engine import complete
from flows.engine.core import Context, record
from flows.engine.queries import step_spec
from flows.rules import OPEN_TASK_STATES
from models import Invitation, Person, Process, StepInstance, Survey, Task
from roles.resolve import direct_holders
from surveys.errors import SurveyRefused
from surveys.groups import ensure_groups, mapping_groups
from surveys.links import make_token, new_nonce, survey_url
from surveys.loader import from_document, instrument_for, to_document
from surveys.schema import STEP_OF_MAPPING

MAPPING_OF_STEP: dict[int, int] = {step: mapping for mapping, step in STEP_OF_MAPPING.items()}
OPEN_WORKING_DAYS = 15


def default_close(now: datetime, working_days: int = OPEN_WORKING_DAYS) -> datetime:
    """The end (23:59 local time) of the ``working_days``-th working day after ``now``."""
    zone = ZoneInfo(get_settings().timezone)
    last = add_working_days(local_date(now, zone), working_days)
    return datetime.combine(last, time(23, 59), tzinfo=zone)


def _audit(ctx: Context, survey: Survey, action: str, from_state: str | None,
           to_state: str | None, data: dict | None = None) -> None:
    record(ctx, organisation_id=survey.organisation_id, process_id=survey.process_id,
           entity="survey", entity_id=survey.id, action=action, from_state=from_state,
           to_state=to_state, data=data)


def _respondents(ctx: Context, process: Process, include_management: bool) -> tuple[list[int], list[int]]:
    data = ctx.role_data(process.id)
    chefs = sorted(p for p, via in direct_holders(data, "chef", ctx.now).items() if via == "direct")
    management = sorted(direct_holders(data, "ledning", ctx.now)) if include_management else []
    return chefs, [p for p in management if p not in chefs]


def open_survey(ctx: Context, step: StepInstance, *, closes_at: datetime | None = None,
                include_management: bool | None = None) -> Survey:
    """Create the step's survey and invite its respondents (used when step 4, 5 or 6 opens)."""
    process = ctx.session.get(Process, step.process_id)
    instrument = instrument_for(ctx.session, process.organisation_id, MAPPING_OF_STEP[step.step_no])
    if include_management is None:
        include_management = "ledning" in instrument.audiences
    include_management = include_management and "ledning" in instrument.audiences
    rounds = ctx.session.scalar(select(func.max(Survey.round)).where(
        Survey.process_id == process.id, Survey.step_no == step.step_no)) or 0
    survey = Survey(organisation_id=process.organisation_id, process_id=process.id, step_id=step.id,
                    step_no=step.step_no, round=rounds + 1, instrument_key=instrument.key,
                    instrument_version=instrument.version, instrument=to_document(instrument),
                    include_management=include_management, status="open", opens_at=ctx.now,
                    closes_at=closes_at or default_close(ctx.now))
    ctx.session.add(survey)
    ctx.session.flush()
    invited = _invite(ctx, process, survey)
    _audit(ctx, survey, "opened", None, "open",
           {"step_no": step.step_no, "round": survey.round, "invited": invited,
            "instrument": f"{instrument.key}@{instrument.version}"})
    return survey


def _invite(ctx: Context, process: Process, survey: Survey) -> int:
    chefs, management = _respondents(ctx, process, survey.include_management)
    placed = ensure_groups(ctx.session, process, chefs, management)
    for role, people in (("chef", chefs), ("ledning", management)):
        for person_id in people:
            ctx.session.add(Invitation(survey_id=survey.id, person_id=person_id, role=role,
                                       group_id=placed[person_id], nonce=new_nonce(),
                                       created_at=ctx.now))
    ctx.session.flush()
    return len(chefs) + len(management)


def start_rerun(ctx: Context, survey_id: int, *, closes_at: datetime | None = None) -> Survey:
    """Run a closed mapping again in the same groups (follow-up); a new round of the same step."""
    previous = _survey(ctx.session, survey_id)
    step = ctx.session.get(StepInstance, previous.step_id)
    return open_survey(ctx, step, closes_at=closes_at, include_management=previous.include_management)


def _survey(session: Session, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise SurveyRefused("survey_not_open")
    return survey


def extend_close(ctx: Context, survey_id: int, closes_at: datetime) -> Survey:
    """Move an open survey's closing time later (links stay valid until then)."""
    survey = _survey(ctx.session, survey_id)
    if survey.status != "open":
        raise SurveyRefused("survey_not_open")
    if closes_at <= survey.closes_at:
        raise SurveyRefused("close_not_later")
    before, survey.closes_at = survey.closes_at, closes_at
    ctx.session.flush()
    _audit(ctx, survey, "close_extended", "open", "open",
           {"from": before.isoformat(), "to": closes_at.isoformat()})
    return survey


def close_survey(ctx: Context, survey_id: int) -> Survey:
    """Close a survey and complete its respondents' open tasks; the caller starts aggregation."""
    survey = _survey(ctx.session, survey_id)
    if survey.status != "open":
        raise SurveyRefused("survey_not_open")
    survey.status, survey.closed_at = "closed", ctx.now
    ctx.session.flush()
    _audit(ctx, survey, "closed", "open", "closed")
    _complete_respondent_tasks(ctx, survey)
    return survey


def _complete_respondent_tasks(ctx: Context, survey: Survey) -> None:
    step = ctx.session.get(StepInstance, survey.step_id)
    process = ctx.session.get(Process, survey.process_id)
    audiences = set(from_document(survey.instrument).audiences)
    keys = [a.key for a in step_spec(process, step).activities_in("aktivitet") if a.role in audiences]
    tasks = ctx.session.scalars(select(Task.id).where(
        Task.step_id == step.id, Task.activity_key.in_(keys),
        Task.status.in_(OPEN_TASK_STATES)).order_by(Task.id)).all()
    system = Context(ctx.session, now=ctx.now, queued=ctx.queued)
    for task_id in tasks:
        complete(system, task_id, {})


def close_due_surveys(ctx: Context) -> list[int]:
    """Close every open survey whose closing time has passed (for the sweep); their ids."""
    due = ctx.session.scalars(select(Survey.id).where(
        Survey.status == "open", Survey.closes_at <= ctx.now).order_by(Survey.id)).all()
    return [close_survey(ctx, survey_id).id for survey_id in due]


@dataclass(frozen=True)
class GroupRate:
    """Invited and answered in one mapping group (for the processledare, live)."""

    key: str
    name: str
    kind: str
    invited: int
    answered: int

    @property
    def rate(self) -> float:
        """Answered as a share of invited."""
        return self.answered / self.invited if self.invited else 0.0


def response_rates(session: Session, survey_id: int) -> list[GroupRate]:
    """Live response rate per mapping group of a survey (counts only, from the invitations)."""
    survey = _survey(session, survey_id)
    rows = session.execute(select(
        Invitation.group_id, func.count(Invitation.id),
        func.sum(case((Invitation.answered.is_(True), 1), else_=0)),
    ).where(Invitation.survey_id == survey_id).group_by(Invitation.group_id)).all()
    counts = {gid: (invited, int(answered or 0)) for gid, invited, answered in rows}
    return [GroupRate(g.key, g.name, g.kind, *counts.get(g.id, (0, 0)))
            for g in mapping_groups(session, survey.process_id) if g.id in counts]


def non_respondents(session: Session, survey_id: int) -> list[Person]:
    """Active people invited to an open survey who have not answered (for reminders)."""
    survey = _survey(session, survey_id)
    if survey.status != "open":
        return []
    return list(session.scalars(select(Person).join(Invitation, Invitation.person_id == Person.id)
                                .where(Invitation.survey_id == survey_id,
                                       Invitation.answered.is_(False), Person.active.is_(True))
                                .order_by(Person.id)))


def _newest_invitation(session: Session, step_id: int, person_id: int):
    """The person's invitation to the newest round of the step's mapping they were invited to:
    its id, nonce, whether answered, and that survey's status (None: never invited)."""
    return session.execute(select(Invitation.id, Invitation.nonce, Invitation.answered, Survey.status)
                           .join(Survey, Survey.id == Invitation.survey_id)
                           .where(Survey.step_id == step_id, Invitation.person_id == person_id)
                           .order_by(Survey.round.desc())).first()


def _owes_answer(row) -> bool:
    return not row.answered and row.status == "open"


def awaiting_answer(session: Session, step_id: int, person_id: int) -> bool | None:
    """For the sweep: does the person still owe the step's open survey an answer (None: not invited)?"""
    row = _newest_invitation(session, step_id, person_id)
    return None if row is None else _owes_answer(row)


def respondent_link(session: Session, survey_id: int, person_id: int, base_url: str | None = None) -> str:
    """The personal link of ``person_id`` to ``survey_id`` (for invitation and reminder mails)."""
    invitation = session.scalar(select(Invitation).where(
        Invitation.survey_id == survey_id, Invitation.person_id == person_id))
    if invitation is None:
        raise SurveyRefused("link_invalid")
    return _link(invitation.id, invitation.nonce, base_url)


def _link(invitation_id: int, nonce: str, base_url: str | None) -> str:
    return survey_url(base_url or get_settings().base_url, make_token(invitation_id, nonce))


def current_survey(session: Session, process_id: int, step_no: int) -> Survey | None:
    """The newest round of a process's mapping at step ``step_no``."""
    return session.scalar(select(Survey).where(Survey.process_id == process_id,
                                               Survey.step_no == step_no)
                          .order_by(Survey.round.desc()))


def answering_time_left(survey: Survey, now: datetime) -> timedelta:
    """How long answers are still taken (zero once closed)."""
    if survey.status != "open":
        return timedelta(0)
    return max(survey.closes_at - now, timedelta(0))


def task_survey_link(session: Session, task: Task, person_id: int, base_url: str | None = None) -> str | None:
    """The personal link a respondent's task stands for: ``person_id``'s invitation to the open
    mapping of the task's step while they still owe it an answer, when the task is the answering
    work (phase aktivitet); else None.

    Reminder and task mails link to the task; from there the respondent goes straight on to
    their own questionnaire with this link.
    """
    if task.phase != "aktivitet" or task.status not in OPEN_TASK_STATES:
        return None
    row = _newest_invitation(session, task.step_id, person_id)
    return _link(row.id, row.nonce, base_url) if row is not None and _owes_answer(row) else None
