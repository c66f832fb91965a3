"""Sending a mapping out and following it: surveys, invitations, response rates, closing.

Opening step 4, 5 or 6 creates the step's survey (``open_survey``, called from the
``AFTER_OPEN`` hook in ``surveys.hooks``) and one invitation per first-line
manager (role ``chef``) and, for mapping 3 when chosen, per member of top
management (``ledning``). Every change here writes one audit event through the
engine's ``record`` and flushes; the caller commits. Closing completes the
respondents' engine tasks all at once, through the engine, so no task's time of
completion hints at who answered when.

**When answering starts.** The step first prepares (the processledare's work);
the respondents' answer tasks go out when its ``aktivitet`` phase begins. Until
then the close date is only planned (``PLANNED_WORKING_DAYS`` after the step
opened, or what the processledare sets while preparing) and the sweep closes
nothing. It is fixed in the transaction that creates the answer tasks (a
``before_flush`` listener below sees them, so the task mails already carry it):
the planned date if it still leaves at least ``MIN_OPEN_WORKING_DAYS`` working
days, else the end of the answer tasks' own due day. Every open answer task's due
date is the close date, and moves with it (``extend_close``).

**Who answered** is worked out when needed (reminders, the task page) from the
invitation's secret and the stored responses, and written to the invitations
only at close, for all of them at once, when the secrets are deleted
(``_record_answered``). Answering itself writes no invitation (see
``surveys.respond``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from chefoskop.settings import get_settings
from flows.calendar import add_working_days, local_date
from flows.engine import complete
from flows.engine.core import Actor, Context, record
from flows.engine.queries import step_spec
from flows.rules import OPEN_TASK_STATES
from models import Invitation, Person, Process, Response, StepInstance, Survey, Task
from roles.resolve import direct_holders
from surveys.aggregate import GroupInfo, participation
from surveys.errors import SurveyRefused
from surveys.groups import ensure_groups, mapping_groups
from surveys.links import link_hash, make_token, new_nonce, respondent_key, survey_url
from surveys.loader import from_document, instrument_for, to_document
from surveys.schema import STEP_OF_MAPPING

MAPPING_OF_STEP: dict[int, int] = {step: mapping for mapping, step in STEP_OF_MAPPING.items()}
# The close date planned when a step opens: its preparation, then the answering window.
PLANNED_WORKING_DAYS = 15
# The answering window when the planned date leaves too little (the answer tasks' due days).
OPEN_WORKING_DAYS = 10
# A close date chosen while preparing stands only if answering still gets this many working
# days (the logbook alone takes five); otherwise the default window applies.
MIN_OPEN_WORKING_DAYS = 5
SURVEY_ACTOR = Actor(label="flow:surveys")


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def end_of_day(day: date) -> datetime:
    """23:59 local time of ``day`` (a close date is the end of a working day)."""
    return datetime.combine(day, time(23, 59), tzinfo=_zone())


def default_close(now: datetime, working_days: int = OPEN_WORKING_DAYS) -> datetime:
    """The end (23:59 local time) of the ``working_days``-th working day after ``now``."""
    return end_of_day(add_working_days(local_date(now, _zone()), working_days))


def close_day(survey: Survey) -> date:
    """The local date answers are due by (the answer tasks' due date)."""
    return survey.closes_at.astimezone(_zone()).date()


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
                include_management: bool | None = None, answering: bool = False) -> Survey:
    """Create the step's survey and invite its respondents (used when step 4, 5 or 6 opens).

    Answering starts when the step's answer tasks go out, or now with ``answering``
    (a re-run, which has no preparation). ``closes_at`` is the planned close date
    (default: ``PLANNED_WORKING_DAYS`` from now, or ``OPEN_WORKING_DAYS`` when answering now).
    """
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
                    closes_at=closes_at or default_close(
                        ctx.now, OPEN_WORKING_DAYS if answering else PLANNED_WORKING_DAYS))
    ctx.session.add(survey)
    ctx.session.flush()
    invited = _invite(ctx, process, survey)
    _audit(ctx, survey, "opened", None, "open",
           {"step_no": step.step_no, "round": survey.round, "invited": invited,
            "instrument": f"{instrument.key}@{instrument.version}"})
    if answering:
        _start_answering(ctx, survey, ctx.now, None)
    else:
        _start_if_tasks_out(ctx, survey)  # a step without preparation has its answer tasks already
    ctx.session.flush()
    return survey


def _invite(ctx: Context, process: Process, survey: Survey) -> int:
    chefs, management = _respondents(ctx, process, survey.include_management)
    placed = ensure_groups(ctx.session, process, chefs, management)
    for role, people in (("chef", chefs), ("ledning", management)):
        for person_id in people:
            nonce = new_nonce()
            ctx.session.add(Invitation(survey_id=survey.id, person_id=person_id, role=role,
                                       group_id=placed[person_id], nonce=nonce,
                                       link_hash=link_hash(nonce), created_at=ctx.now))
    ctx.session.flush()
    return len(chefs) + len(management)


def start_rerun(ctx: Context, survey_id: int, *, closes_at: datetime | None = None) -> Survey:
    """Run a closed mapping again in the same groups (follow-up); a new round of the same step.

    A re-run has no preparation phase: answering starts at once.
    """
    previous = _survey(ctx.session, survey_id)
    step = ctx.session.get(StepInstance, previous.step_id)
    return open_survey(ctx, step, closes_at=closes_at, include_management=previous.include_management,
                       answering=True)


def _survey(session: Session, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise SurveyRefused("survey_not_open")
    return survey


# --- answering starts: the close date and the answer tasks' due dates -------------------------


def _answer_keys(session: Session, survey: Survey) -> set[str]:
    """The activity keys of the step's answer tasks (phase aktivitet, a role the instrument asks)."""
    step = session.get(StepInstance, survey.step_id)
    process = session.get(Process, survey.process_id)
    audiences = set(from_document(survey.instrument).audiences)
    return {a.key for a in step_spec(process, step).activities_in("aktivitet") if a.role in audiences}


def _answer_tasks(session: Session, survey: Survey, *, since_open: bool = True) -> list[Task]:
    """The survey's open answer tasks (``since_open``: created since it opened)."""
    stmt = select(Task).where(Task.step_id == survey.step_id,
                              Task.activity_key.in_(sorted(_answer_keys(session, survey))),
                              Task.status.in_(sorted(OPEN_TASK_STATES)))
    if since_open:
        stmt = stmt.where(Task.created_at >= survey.opens_at)
    return list(session.scalars(stmt.order_by(Task.id)))


def _start_answering(ctx: Context, survey: Survey, start: datetime, due: date | None) -> None:
    """Fix the close date as answering starts at ``start``; ``due`` is the answer tasks' due date."""
    earliest = default_close(start, MIN_OPEN_WORKING_DAYS)
    planned = survey.closes_at
    if planned >= earliest:
        closes = planned
    else:  # preparation ran long: answering gets its own window, never a closed door
        closes = max(end_of_day(due) if due else default_close(start), earliest)
    survey.answering_from, survey.closes_at = start, closes
    _audit(ctx, survey, "answering_started", "open", "open",
           {"closes_at": closes.isoformat(), "planned": planned.isoformat()})


def _move_due_dates(ctx: Context, survey: Survey, tasks: list[Task]) -> None:
    """Every open answer task is due on the close date (all of them alike, answered or not)."""
    day = close_day(survey)
    for task in tasks:
        if task.due_date is None or task.due_date == day:
            continue
        before, task.due_date = task.due_date, day
        record(ctx, organisation_id=survey.organisation_id, process_id=survey.process_id,
               entity="task", entity_id=task.id, action="due_moved", from_state=task.status,
               to_state=task.status, data={"from": before.isoformat(), "to": day.isoformat(),
                                           "survey_id": survey.id})


def _start_if_tasks_out(ctx: Context, survey: Survey) -> bool:
    """Start answering if the survey's answer tasks exist already; True when it started."""
    tasks = _answer_tasks(ctx.session, survey)
    if survey.answering_from is not None or not tasks:
        return False
    dues = [t.due_date for t in tasks if t.due_date is not None]
    _start_answering(ctx, survey, min(t.created_at for t in tasks), max(dues) if dues else None)
    _move_due_dates(ctx, survey, tasks)
    return True


def start_answering_due(ctx: Context) -> list[int]:
    """For the sweep: start answering on open surveys whose answer tasks exist but were not
    seen going out (e.g. made by a process that never imported this module); their ids."""
    waiting = ctx.session.scalars(select(Survey).where(
        Survey.status == "open", Survey.answering_from.is_(None)).order_by(Survey.id)).all()
    started = [s.id for s in waiting if _start_if_tasks_out(ctx, s)]
    ctx.session.flush()
    return started


@event.listens_for(Session, "before_flush")
def _answer_tasks_going_out(session: Session, _flush_context, _instances) -> None:
    """New answer tasks are about to be written: start answering in the same transaction, and
    make them due on the close date (before the engine builds their mails)."""
    new = [obj for obj in session.new
           if isinstance(obj, Task) and obj.phase == "aktivitet" and obj.step_id is not None]
    if not new:
        return
    with session.no_autoflush:
        for step_id in sorted({t.step_id for t in new}):
            _tasks_going_out(session, step_id, [t for t in new if t.step_id == step_id])


def _tasks_going_out(session: Session, step_id: int, tasks: list[Task]) -> None:
    step = session.get(StepInstance, step_id)
    if step is None or step.step_no not in MAPPING_OF_STEP:
        return
    survey = session.scalar(select(Survey).where(Survey.step_id == step_id)
                            .order_by(Survey.round.desc()).limit(1))
    if survey is None or survey.status != "open":
        return
    keys = _answer_keys(session, survey)
    tasks = [t for t in tasks if t.activity_key in keys]
    if not tasks:
        return
    if survey.answering_from is None:
        start = min(t.created_at for t in tasks)
        dues = [t.due_date for t in tasks if t.due_date is not None]
        _start_answering(Context(session, SURVEY_ACTOR, start), survey, start,
                         max(dues) if dues else None)
    day = close_day(survey)
    for task in tasks:  # new rows: their creation is audited; no separate event
        if task.due_date is not None:
            task.due_date = day


def extend_close(ctx: Context, survey_id: int, closes_at: datetime) -> Survey:
    """Set or move an open survey's close date (links stay valid until then).

    While the step prepares any future date may be planned (answering starts with it if it
    leaves enough time, see ``_start_answering``); once answering has started the date can
    only move later, and every open answer task's due date moves with it.
    """
    survey = _survey(ctx.session, survey_id)
    if survey.status != "open":
        raise SurveyRefused("survey_not_open")
    if survey.answering_from is not None and closes_at <= survey.closes_at:
        raise SurveyRefused("close_not_later")
    if closes_at <= ctx.now:
        raise SurveyRefused("close_in_past")
    before, survey.closes_at = survey.closes_at, closes_at
    ctx.session.flush()
    _audit(ctx, survey, "close_extended", "open", "open",
           {"from": before.isoformat(), "to": closes_at.isoformat()})
    if survey.answering_from is not None:
        _move_due_dates(ctx, survey, _answer_tasks(ctx.session, survey))
    ctx.session.flush()
    return survey


# --- closing ---------------------------------------------------------------------------------


def close_survey(ctx: Context, survey_id: int) -> Survey:
    """Close a survey, record who answered and forget the link secrets, and complete the
    respondents' open tasks; the caller starts aggregation after the commit."""
    survey = _survey(ctx.session, survey_id)
    if survey.status != "open":
        raise SurveyRefused("survey_not_open")
    survey.status, survey.closed_at = "closed", ctx.now
    ctx.session.flush()
    _audit(ctx, survey, "closed", "open", "closed")
    _record_answered(ctx.session, survey)
    _complete_respondent_tasks(ctx, survey)
    return survey


def _submitted_keys(session: Session, survey_id: int) -> set[str]:
    return set(session.scalars(select(Response.respondent_key).where(
        Response.survey_id == survey_id, Response.status == "submitted")))


def _record_answered(session: Session, survey: Survey) -> None:
    """Every invitation at once: whether its person answered, and its secret deleted.

    After this, only ``link_hash`` is left: the respondent's own link still opens their
    answers, but nobody (not even with the database and the application secret) can
    recompute a response's key from an invitation any more.
    """
    submitted = _submitted_keys(session, survey.id)
    for invitation in session.scalars(select(Invitation).where(
            Invitation.survey_id == survey.id).order_by(Invitation.id)).all():
        nonce, invitation.nonce = invitation.nonce, None
        invitation.answered = nonce is not None and respondent_key(survey.id, nonce) in submitted
    session.flush()


def _complete_respondent_tasks(ctx: Context, survey: Survey) -> None:
    tasks = [t.id for t in _answer_tasks(ctx.session, survey, since_open=False)]
    system = Context(ctx.session, now=ctx.now, queued=ctx.queued)
    for task_id in tasks:
        complete(system, task_id, {})


def close_due_surveys(ctx: Context) -> list[int]:
    """Close every open survey whose closing time has passed (for the sweep); their ids.

    A survey whose answer tasks have not gone out yet is never closed here.
    """
    due = ctx.session.scalars(select(Survey.id).where(
        Survey.status == "open", Survey.answering_from.is_not(None),
        Survey.closes_at <= ctx.now).order_by(Survey.id)).all()
    return [close_survey(ctx, survey_id).id for survey_id in due]


def complete_leftover_tasks(ctx: Context) -> int:
    """For the sweep: complete answer tasks made after their mapping was closed (by hand, before
    answering started); nobody can answer them. How many."""
    steps = select(Task.step_id).where(Task.phase == "aktivitet",
                                       Task.status.in_(sorted(OPEN_TASK_STATES)))
    done = 0
    for survey in ctx.session.scalars(select(Survey).where(
            Survey.status == "closed", Survey.step_id.in_(steps)).order_by(Survey.id)).all():
        if current_survey(ctx.session, survey.process_id, survey.step_no).id == survey.id:
            tasks = _answer_tasks(ctx.session, survey, since_open=False)
            _complete_respondent_tasks(ctx, survey)
            done += len(tasks)
    return done


def closed_not_aggregated(session: Session) -> list[int]:
    """Closed surveys whose results were never stored (an aggregation that did not run)."""
    return list(session.scalars(select(Survey.id).where(
        Survey.status == "closed", Survey.aggregated_at.is_(None)).order_by(Survey.id)))


# --- following the answers --------------------------------------------------------------------


@dataclass(frozen=True)
class GroupRate:
    """Invited and answered in one mapping group (raw counts: for checks, never for display)."""

    key: str
    name: str
    kind: str
    invited: int
    answered: int

    @property
    def rate(self) -> float:
        """Answered as a share of invited."""
        return self.answered / self.invited if self.invited else 0.0


def _answered_by_group(session: Session, survey_id: int) -> Counter:
    """Submitted responses per group id, counted from the responses (no identity read)."""
    return Counter(dict(session.execute(select(Response.group_id, func.count(Response.id)).where(
        Response.survey_id == survey_id, Response.status == "submitted").group_by(Response.group_id)).all()))


def response_rates(session: Session, survey_id: int) -> list[GroupRate]:
    """Invited and answered per mapping group of a survey, unsuppressed.

    Pages show ``published_rates``: a count below the anonymity threshold is itself telling.
    """
    survey = _survey(session, survey_id)
    invited = dict(session.execute(select(Invitation.group_id, func.count(Invitation.id)).where(
        Invitation.survey_id == survey_id).group_by(Invitation.group_id)).all())
    answered = _answered_by_group(session, survey_id)
    return [GroupRate(g.key, g.name, g.kind, invited[g.id], answered.get(g.id, 0))
            for g in mapping_groups(session, survey.process_id) if g.id in invited]


def published_rates(session: Session, survey_id: int) -> dict:
    """Live response rates under the results' rule: ``{"participation", "threshold"}``.

    The same rule as the published results (``surveys.aggregate.participation``): a group
    with fewer answers than the threshold shows no count or rate, nor does a group from
    which such a count could be worked out, nor the total while it is below the threshold.
    """
    from surveys.results import threshold_of

    survey = _survey(session, survey_id)
    threshold = threshold_of(session, survey.organisation_id)
    rates = response_rates(session, survey_id)
    groups = [GroupInfo(r.key, r.name, r.kind, r.invited, r.answered) for r in rates]
    part, _ = participation(groups, Counter({r.key: r.answered for r in rates}), threshold)
    return {"participation": part, "threshold": threshold}


def pending_invitations(session: Session, survey_id: int) -> list[Invitation]:
    """Invitations to an open survey whose person has not submitted (worked out, not stored)."""
    submitted = _submitted_keys(session, survey_id)
    return [i for i in session.scalars(select(Invitation).where(
        Invitation.survey_id == survey_id, Invitation.nonce.is_not(None)).order_by(Invitation.id))
        if respondent_key(survey_id, i.nonce) not in submitted]


def non_respondents(session: Session, survey_id: int) -> list[Person]:
    """Active people invited to an open survey who have not answered (for reminders)."""
    survey = _survey(session, survey_id)
    if survey.status != "open":
        return []
    ids = [i.person_id for i in pending_invitations(session, survey_id)]
    return list(session.scalars(select(Person).where(Person.id.in_(ids), Person.active.is_(True))
                                .order_by(Person.id)))


def _newest_invitation(session: Session, step_id: int, person_id: int):
    """The person's invitation to the newest round of the step's mapping they were invited to:
    its survey id, nonce, and that survey's status (None: never invited)."""
    return session.execute(select(Invitation.survey_id, Invitation.nonce, Survey.status)
                           .join(Survey, Survey.id == Invitation.survey_id)
                           .where(Survey.step_id == step_id, Invitation.person_id == person_id)
                           .order_by(Survey.round.desc())).first()


def _owes_answer(session: Session, row) -> bool:
    if row.status != "open" or row.nonce is None:
        return False
    return session.scalar(select(Response.id).where(
        Response.survey_id == row.survey_id, Response.status == "submitted",
        Response.respondent_key == respondent_key(row.survey_id, row.nonce))) is None


def awaiting_answer(session: Session, step_id: int, person_id: int) -> bool | None:
    """For the sweep: does the person still owe the step's open survey an answer (None: not invited)?"""
    row = _newest_invitation(session, step_id, person_id)
    return None if row is None else _owes_answer(session, row)


def respondent_link(session: Session, survey_id: int, person_id: int, base_url: str | None = None) -> str:
    """The personal link of ``person_id`` to ``survey_id`` (while it is open: closing deletes
    the secret it is made from)."""
    invitation = session.scalar(select(Invitation).where(
        Invitation.survey_id == survey_id, Invitation.person_id == person_id))
    if invitation is None or invitation.nonce is None:
        raise SurveyRefused("link_invalid")
    return _link(invitation.nonce, base_url)


def _link(nonce: str, base_url: str | None) -> str:
    return survey_url(base_url or get_settings().base_url, make_token(nonce))


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
    return _link(row.nonce, base_url) if row is not None and _owes_answer(session, row) else None
