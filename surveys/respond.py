"""The respondent's side: open a personal link, save answers (a logbook day at a time), submit.

The link is the only way from an invitation to its response: ``respondent_key``
hashes the invitation's secret. Saving and submitting write the response row and
nothing else: no invitation, task or other row that names a person shares their
transaction, so transaction ids (PostgreSQL ``xmin``) cannot join the two; the
invitations learn who answered only when the mapping closes
(``surveys.distribution.close_survey``). A refusal raises ``SurveyRefused`` with a
reason in the respondent's language (``.messages(locale)``) and ``kept``, exactly
what they sent, so a page can show it again; what was saved before stays as it was.
Functions here flush; the caller commits (and on a refusal, rolls back).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Invitation, Person, Response, Survey
from surveys.answers import clean_day, clean_items, missing_days
from surveys.errors import SurveyRefused
from surveys.links import link_hash, read_token, respondent_key
from surveys.loader import from_document
from surveys.schema import Instrument


@dataclass
class Respondent:
    """What a personal link opens: the survey, its instrument and the respondent's own answers."""

    survey: Survey
    instrument: Instrument
    role: str
    locale: str
    status: str  # "not_started", "draft" or "submitted"
    answers: dict[str, Any] = field(default_factory=dict)

    def can_answer(self, now: datetime) -> bool:
        """Whether answers are still taken through this link."""
        return self.status != "submitted" and _is_open(self.survey, now)


def _is_open(survey: Survey, now: datetime) -> bool:
    """Open, and not past the close date once answering has started (before then the
    close date is only planned: ``surveys.distribution`` fixes it when answering starts)."""
    if survey.status != "open":
        return False
    return survey.answering_from is None or now < survey.closes_at


@dataclass
class _Link:
    invitation: Invitation
    survey: Survey
    key: str
    locale: str


def _resolve(session: Session, token: str) -> _Link:
    nonce = read_token(token)
    invitation = session.scalar(select(Invitation).where(Invitation.link_hash == link_hash(nonce)))
    # While the mapping is open the nonce itself is kept (erasure replaces it, which ends the
    # link); once closed only its hash is, and the hash matched.
    if invitation is None or (invitation.nonce is not None
                              and not hmac.compare_digest(invitation.nonce, nonce)):
        raise SurveyRefused("link_invalid")
    survey = session.get(Survey, invitation.survey_id)
    locale = session.get(Person, invitation.person_id).locale or "sv"
    return _Link(invitation, survey, respondent_key(survey.id, nonce), locale)


def _response(session: Session, link: _Link) -> Response | None:
    return session.scalar(select(Response).where(Response.survey_id == link.survey.id,
                                                 Response.respondent_key == link.key))


def _view(session: Session, link: _Link) -> Respondent:
    response = _response(session, link)
    return Respondent(link.survey, from_document(link.survey.instrument), link.invitation.role,
                      link.locale, response.status if response else "not_started",
                      dict(response.answers) if response else {})


def open_link(session: Session, token: str) -> Respondent:
    """What the personal link shows: the instrument and the respondent's own answers so far."""
    return _view(session, _resolve(session, token))


def _writable(session: Session, token: str, now: datetime, kept: dict) -> tuple[_Link, Response | None]:
    try:
        link = _resolve(session, token)
    except SurveyRefused as exc:
        raise SurveyRefused(exc.code, kept=kept, **exc.params) from None
    if not _is_open(link.survey, now):
        closed = (link.survey.closed_at or link.survey.closes_at).date()
        raise SurveyRefused("survey_closed", kept=kept, closed=closed)
    response = _response(session, link)
    if response is not None and response.status == "submitted":
        raise SurveyRefused("already_submitted", kept=kept)
    return link, response


def _draft(session: Session, link: _Link, response: Response | None) -> Response:
    if response is None:
        response = Response(survey_id=link.survey.id, group_id=link.invitation.group_id,
                            respondent_key=link.key, status="draft", answers={"items": {}, "days": []})
        session.add(response)
    return response


def save_answers(session: Session, token: str, items: dict[str, Any], now: datetime, *,
                 submit: bool = False) -> Respondent:
    """Save answers to questions (merged into what was saved); ``submit`` sends them for good."""
    kept = {"items": dict(items)}
    link, response = _writable(session, token, now, kept)
    instrument = from_document(link.survey.instrument)
    clean, issues = clean_items(instrument, items, complete=False)
    if issues:
        raise SurveyRefused("invalid_answers", issues=issues, kept=kept)
    response = _draft(session, link, response)
    response.answers = {**response.answers, "items": {**response.answers.get("items", {}), **clean}}
    session.flush()
    return submit_answers(session, token, now) if submit else _view(session, link)


def save_logbook_day(session: Session, token: str, day: int, entry: dict[str, Any],
                     now: datetime) -> Respondent:
    """Save one logbook day (0-based ``day``); the logbook can be resumed later with the same link."""
    kept = {"days": {str(day): dict(entry)}}
    link, response = _writable(session, token, now, kept)
    spec = from_document(link.survey.instrument).logbook
    if spec is None:
        raise SurveyRefused("unknown_day", kept=kept, day=day + 1)
    clean, issues = clean_day(spec, day, entry)
    if issues:
        raise SurveyRefused("invalid_answers", issues=issues, kept=kept)
    response = _draft(session, link, response)
    days = list(response.answers.get("days") or [])
    days += [None] * (spec.days - len(days))
    days[day] = clean
    response.answers = {**response.answers, "days": days}
    session.flush()
    return _view(session, link)


def submit_answers(session: Session, token: str, now: datetime) -> Respondent:
    """Send the saved answers for good, once every required question (and day) is filled in."""
    link, found = _writable(session, token, now, {})
    response = _draft(session, link, found)
    kept = dict(response.answers)
    instrument = from_document(link.survey.instrument)
    _, issues = clean_items(instrument, response.answers.get("items", {}), complete=True)
    if instrument.logbook is not None and missing_days(instrument.logbook, response.answers.get("days", [])):
        raise SurveyRefused("days_missing", issues=issues, kept=kept, days=instrument.logbook.days)
    if issues:
        raise SurveyRefused("invalid_answers", issues=issues, kept=kept)
    response.status = "submitted"
    # Kept to the day, so it cannot be lined up with mail or web logs.
    response.submitted_at = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
    # The invitation is not touched: ``answered`` is set for everyone at close.
    session.flush()
    return _view(session, link)
