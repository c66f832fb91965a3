"""Simulated respondents for ``chefoskop simulate``: invited people answer through their own links.

Each mapping group gets a leaning and each person their own, so groups differ
the way real ones do; answers go through the same path as a real respondent's
(``surveys.respond``), so every rule applies to them too.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.orm import Session

from chefoskop import clock
from models import Survey
from surveys.distribution import pending_invitations
from surveys.links import make_token
from surveys.loader import from_document
from surveys.respond import save_answers, save_logbook_day, submit_answers
from surveys.schema import Instrument, Item


def _likert(instrument: Instrument, item: Item, lean: float, rng: random.Random) -> int:
    scale = instrument.scale(item.scale)
    favourable = scale.middle + lean + rng.gauss(0, 0.9)
    value = favourable if item.polarity == "positive" else scale.low + scale.high - favourable
    return min(scale.high, max(scale.low, round(value)))


def simulated_items(instrument: Instrument, lean: float, rng: random.Random) -> dict[str, Any]:
    """Answers to every question by one simulated person leaning ``lean`` scale points."""
    answers: dict[str, Any] = {}
    for item in instrument.items():
        if not item.required and rng.random() < 0.15:
            continue
        if item.kind == "likert":
            answers[item.key] = _likert(instrument, item, lean, rng)
        elif item.kind == "single_choice":
            answers[item.key] = rng.choice(item.options).value
        elif item.kind == "number":
            low, high = item.minimum or 0, min(item.maximum or 60, 60)
            answers[item.key] = rng.randint(int(low) + 5, int(high))
        elif rng.random() < 0.3:
            answers[item.key] = "Simulerad kommentar."
    return answers


def _quarters(hours: float, weights: list[float]) -> list[float]:
    """Split ``hours`` into quarter hours in proportion to ``weights`` (largest remainder)."""
    units = round(hours * 4)
    total = sum(weights)
    raw = [units * w / total for w in weights]
    whole = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - whole[i], reverse=True)[: units - sum(whole)]:
        whole[i] += 1
    return [w / 4 for w in whole]


def simulated_day(instrument: Instrument, lean: float, rng: random.Random) -> dict[str, Any]:
    """One logbook day: hours worked split by area and by form of work."""
    spec = instrument.logbook
    hours = round(max(4.0, rng.gauss(8.8 - lean, 1.2)) * 4) / 4
    areas = _quarters(hours, [rng.uniform(0.5, 2.0) + (1.0 if c.key == "personnel" else 0)
                              for c in spec.areas])
    forms = _quarters(hours, [rng.uniform(0.5, 2.0) + (1.0 if c.key == "meetings" else 0)
                              for c in spec.forms])
    return {"hours": hours, "areas": {c.key: h for c, h in zip(spec.areas, areas, strict=True)},
            "forms": {c.key: h for c, h in zip(spec.forms, forms, strict=True)}}


def simulate_answers(session: Session, survey_id: int, rng: random.Random, *,
                     answer_share: float = 0.9) -> int:
    """Let invited people who have not answered do so (about ``answer_share`` of them); flushes."""
    survey = session.get(Survey, survey_id)
    instrument = from_document(survey.instrument)
    now = clock.now()
    invitations = pending_invitations(session, survey_id)
    leanings: dict[int, float] = {}
    answered = 0
    for invitation in invitations:
        if rng.random() >= answer_share:
            continue
        group_lean = leanings.setdefault(invitation.group_id, rng.uniform(-1.0, 1.0))
        lean = group_lean + rng.gauss(0, 0.4)
        token = make_token(invitation.nonce)
        if instrument.logbook is not None:
            for day in range(instrument.logbook.days):
                save_logbook_day(session, token, day, simulated_day(instrument, lean, rng), now)
        save_answers(session, token, simulated_items(instrument, lean, rng), now)
        submit_answers(session, token, now)
        answered += 1
    return answered
