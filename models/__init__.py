"""SQLAlchemy tables of chefoskop. Importing this package registers every table."""

from models.audit import AuditEvent, AuditIsAppendOnly
from models.auth import ApiToken, IdempotencyRecord, LoginAttempt, WebSession
from models.base import Base, utcnow
from models.evidence import Consultation, RiskAssessment
from models.followup import ActionReview, DevelopmentArea, FollowUpMeeting, ProcessEvaluation
from models.organisation import Body, BodyMember, Organisation, Person, Unit, UnitLevel
from models.outbox import OutboxMessage, OutboxStatus
from models.plans import Action, ActionPlan
from models.process import Gate, Process, StepInstance, Task, TaskCandidate
from models.roles import Delegation, RoleAssignment
from models.simulation import SimulationRun
from models.surveys import (
    Invitation,
    MappingGroup,
    MappingGroupMember,
    OrganisationInstrument,
    Response,
    ResultAccess,
    Survey,
)

__all__ = [
    "Action", "ActionPlan", "ApiToken", "AuditEvent", "AuditIsAppendOnly", "Base", "Body",
    "BodyMember", "Consultation", "Delegation", "Gate", "IdempotencyRecord", "LoginAttempt",
    "Organisation", "OutboxMessage", "OutboxStatus", "Person", "Process", "RiskAssessment",
    "RoleAssignment", "StepInstance", "Task", "TaskCandidate", "Unit", "UnitLevel", "WebSession",
    "utcnow",
    "Invitation", "MappingGroup", "MappingGroupMember", "OrganisationInstrument", "Response",
    "ResultAccess", "Survey",
    "ActionReview", "DevelopmentArea", "FollowUpMeeting", "ProcessEvaluation",
    "SimulationRun",
]
