"""The mappings (steps 4-6): instruments, groups, surveys, invitations, responses, result access.

Identity and answers live apart. ``Invitation`` knows the person, the link's
secret while the mapping is open, and (from the close on) whether they answered;
``Response`` holds the answers with the mapping group and a one-way keyed hash of
the invitation's secret, never a person or invitation id, under a random id. Only
the respondent's own link can find their response again; no transaction writes a
response together with a row that names a person (see ``surveys.unlink``).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class OrganisationInstrument(Base):
    """An organisation's own instrument file, validated and stored as a document."""

    __tablename__ = "survey_instrument"
    __table_args__ = (UniqueConstraint("organisation_id", "key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    version: Mapped[int]
    mapping: Mapped[int]
    document: Mapped[dict]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))


class MappingGroup(Base):
    """Managers in similar situations, fixed once and kept through steps 4-6 and re-runs.

    ``process_id`` is the first process of a chain of re-runs (its ``previous_process_id``
    root), so a later cycle reuses the same groups.
    """

    __tablename__ = "mapping_group"
    __table_args__ = (UniqueConstraint("process_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="managers")  # or "management"
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MappingGroupMember(Base):
    """Who is in which mapping group: used to send invitations, never to read answers."""

    __tablename__ = "mapping_group_member"

    group_id: Mapped[int] = mapped_column(ForeignKey("mapping_group.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True, index=True)


class Survey(Base):
    """One run of a mapping's instrument in a process (round 2+ is a re-run)."""

    __tablename__ = "survey"
    __table_args__ = (UniqueConstraint("process_id", "step_no", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("step_instance.id"))
    step_no: Mapped[int]
    round: Mapped[int] = mapped_column(default=1)
    instrument_key: Mapped[str] = mapped_column(String(60))
    instrument_version: Mapped[int]
    instrument: Mapped[dict]  # the snapshot answered, so a later import cannot change it
    include_management: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    opens_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the respondents' answer tasks went out (None while the step prepares): the sweep
    # never closes a mapping before then.
    answering_from: Mapped[datetime | None]
    # Planned while the step prepares; fixed when answering starts (``surveys.distribution``).
    closes_at: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    results: Mapped[dict | None]  # published (already suppressed) results from the flow
    aggregated_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Invitation(Base):
    """The identity side: who is asked, their link's secret, and whether they answered.

    ``nonce`` (the link's secret) is kept only while the mapping is open, so the task page
    can lead the person to their questionnaire; closing deletes it and keeps ``link_hash``
    (its SHA-256), enough to recognise the link but not to recompute the response's key.
    ``answered`` is written only when the mapping closes, for every invitation at once,
    never when someone answers: no time or order of answering is kept here.
    """

    __tablename__ = "survey_invitation"
    __table_args__ = (UniqueConstraint("survey_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mapping_group.id"), index=True)
    role: Mapped[str] = mapped_column(String(40), default="chef")
    nonce: Mapped[str | None] = mapped_column(String(64))
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def new_response_id() -> str:
    """A random public id: response ids say nothing about the order answers came in."""
    return secrets.token_hex(16)


class Response(Base):
    """The answer side: answers, the mapping group and a keyed hash, never a person.

    The id is random, not a sequence. ``submitted_at`` is kept to the day (midnight
    UTC) so it cannot be matched against mail or web logs to the minute.
    """

    __tablename__ = "survey_response"
    __table_args__ = (
        UniqueConstraint("survey_id", "respondent_key"),
        Index("ix_survey_response_survey_status", "survey_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_response_id)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("mapping_group.id"), index=True)
    respondent_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # or "submitted"
    answers: Mapped[dict]
    submitted_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ResultAccess(Base):
    """Every read of survey results: who, when, what and in which form."""

    __tablename__ = "survey_result_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id"), index=True)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id"), index=True)
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(60), default="person")
    purpose: Mapped[str] = mapped_column(String(20))  # data, page, csv, pdf, html, flow
    locale: Mapped[str] = mapped_column(String(5), default="sv")
