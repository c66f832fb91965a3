"""Counting what processes did, read back from the database (for simulate and its tests)."""

from __future__ import annotations

from sqlalchemy import func, select

from chefoskop.db import unit_of_work
from models import (
    Action,
    ActionPlan,
    AuditEvent,
    Consultation,
    Gate,
    OutboxMessage,
    Process,
    RiskAssessment,
    StepInstance,
    Task,
)
from models.followup import FollowUpMeeting
from models.surveys import Response as SurveyResponse
from models.surveys import Survey


def summarise(organisation_ids: list[int]) -> dict:
    """Counts of processes, steps, tasks, gates, audit events and mail for the organisations."""
    with unit_of_work() as s:
        pids = select(Process.id).where(Process.organisation_id.in_(organisation_ids))

        def n(model, *where) -> int:
            return s.scalar(select(func.count()).select_from(model).where(*where)) or 0

        mail = dict(s.execute(select(OutboxMessage.kind, func.count())
                              .where(OutboxMessage.process_id.in_(pids))
                              .group_by(OutboxMessage.kind)).all())
        sent = n(OutboxMessage, OutboxMessage.organisation_id.in_(organisation_ids),
                 OutboxMessage.status.in_(("sent", "digested")))
        return {
            "processes_started": n(Process, Process.id.in_(pids)),
            "processes_completed": n(Process, Process.id.in_(pids), Process.status == "completed"),
            "steps_completed": n(StepInstance, StepInstance.process_id.in_(pids),
                                 StepInstance.status == "closed"),
            "tasks_created": n(Task, Task.process_id.in_(pids)),
            "tasks_completed": n(Task, Task.process_id.in_(pids), Task.status == "completed"),
            "gates_passed": n(Gate, Gate.process_id.in_(pids), Gate.status == "approved"),
            "gates_rejected": n(Gate, Gate.process_id.in_(pids), Gate.status == "rejected"),
            "audit_events": n(AuditEvent, AuditEvent.organisation_id.in_(organisation_ids)),
            "surveys": n(Survey, Survey.process_id.in_(pids)),
            "survey_responses": n(SurveyResponse, SurveyResponse.survey_id.in_(
                select(Survey.id).where(Survey.process_id.in_(pids)))),
            "plans_by_level": dict(sorted(s.execute(
                select(ActionPlan.level, func.count()).where(ActionPlan.process_id.in_(pids))
                .group_by(ActionPlan.level)).all())),
            "actions_done": n(Action, Action.process_id.in_(pids), Action.status == "done"),
            "risk_assessments": n(RiskAssessment, RiskAssessment.process_id.in_(pids)),
            "consultations": n(Consultation, Consultation.process_id.in_(pids)),
            "follow_up_meetings_held": n(FollowUpMeeting, FollowUpMeeting.process_id.in_(pids),
                                         FollowUpMeeting.status == "held"),
            "notifications": dict(sorted(mail.items())),
            "mails_delivered": sent,
        }
