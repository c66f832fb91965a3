"""The exports open and read well: PDF pages render, the evidence pack names each record's plan, the XLSX
holds dates and numbers, the CSV is UTF-8 with BOM, the history is told in sentences (sv, en)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from flows import engine
from flows.definition import Text
from flows.engine.areas import HistoryEntry
from models import Action, ActionPlan, Consultation, Gate, Person, RiskAssessment, Unit
from plans import evidence_pack_pdf, plan_csv, plan_pdf, plan_xlsx
from plans.export import evidence_pack_html, plan_html
from plans.history import HistorySubjects, actor, history_sentence, plan_history_lines, status_change
from tests.helpers import ctx_for, start, walk_to
from tests.plans.support import later


def _first_page_is_drawn(pdf: bytes) -> int:
    document = pdfium.PdfDocument(pdf)
    image = document[0].render(scale=0.5).to_pil().convert("L")
    dark = sum(image.histogram()[:200])
    assert dark > 500, "page 1 looks blank"
    return len(document)


def test_plan_and_evidence_exports_open(session):
    s = start(session, managers=3)
    walk_to(session, s.process_id, 9)
    plan = session.scalars(
        select(ActionPlan).where(ActionPlan.process_id == s.process_id, ActionPlan.level == "C")
    ).first()
    now = later(session)
    reviews = [
        engine.ReviewFields(a.id, "yes", "no", "partly", learned="Börja tidigare")
        for a in session.scalars(
            select(Action).where(Action.plan_id == plan.id, Action.status.in_(("in_progress", "done")))
        )
    ]
    engine.record_follow_up(
        ctx_for(session, s.person("processledare"), now),
        plan.id,
        held_on=now.date(),
        participants=["Chef", "Skyddsombud"],
        reviews=reviews,
        next_follow_up_on=now.date() + timedelta(days=60),
    )
    session.commit()
    html = plan_html(session, plan.id)
    assert "Åtgärder" in html and "Genomförd som planerat?" in html and "Börja tidigare" in html
    assert "Carried out as planned?" in plan_html(session, plan.id, "en")
    assert _first_page_is_drawn(plan_pdf(session, plan.id)) >= 1
    assert _first_page_is_drawn(plan_pdf(session, plan.id, "en")) >= 1
    actions = session.scalars(select(Action).where(Action.plan_id == plan.id)).all()
    rows = list(csv.reader(io.StringIO(plan_csv(session, plan.id).decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Utvecklingsområde" and len(rows) == 1 + len(actions)
    assert {r[9] for r in rows[1:]} <= {"Pågår", "Klar", "Godkänd", "Planerad", "Väntar på riskbedömning"}
    sheet = load_workbook(io.BytesIO(plan_xlsx(session, plan.id, "en"))).active
    values = list(sheet.values)
    assert values[0][0] == "Development area" and len(values) == 1 + len(actions)
    assert values[1][3] == actions[0].description
    pack = evidence_pack_html(session, s.process_id)
    assert "Riskbedömningar" in pack and "Samverkan" in pack and "Processägarens godkännande" in pack
    assert _first_page_is_drawn(evidence_pack_pdf(session, s.process_id)) >= 2


# --- what a user sees in the files --------------------------------------------------------------

def _pages_text(pdf: bytes) -> list[str]:
    """The text of each page, whitespace folded (the running header is part of its page)."""
    document = pdfium.PdfDocument(pdf)
    return [" ".join(document[i].get_textpage().get_text_range().split()) for i in range(len(document))]


@pytest.fixture
def followed_up(session):
    """A process at step 9 whose first workplace plan has had a follow-up meeting (committed)."""
    s = start(session, managers=3)
    walk_to(session, s.process_id, 9)
    plan = session.scalars(
        select(ActionPlan).where(ActionPlan.process_id == s.process_id, ActionPlan.level == "C")
        .order_by(ActionPlan.id)
    ).first()
    now = later(session)
    reviews = [
        engine.ReviewFields(a.id, "yes", "partly", "yes", learned="Lärdom för åäö")
        for a in session.scalars(
            select(Action).where(Action.plan_id == plan.id, Action.status.in_(("in_progress", "done")))
        )
    ]
    engine.record_follow_up(
        ctx_for(session, s.person("processledare"), now), plan.id, held_on=now.date(),
        participants=["Chef", "Skyddsombud"], reviews=reviews,
        next_follow_up_on=now.date() + timedelta(days=60),
    )
    session.commit()
    return s, plan


def test_the_evidence_pack_puts_every_record_under_its_plan_with_unit_and_owner(session, followed_up):
    s, _ = followed_up
    plans = session.scalars(select(ActionPlan).where(ActionPlan.process_id == s.process_id)).all()
    assert len(plans) >= 3 and len({p.level for p in plans}) == 3
    pages = _pages_text(evidence_pack_pdf(session, s.process_id))
    identity = {}
    for p in plans:
        unit = session.get(Unit, p.unit_id).name if p.unit_id else "Hela organisationen"
        owner = session.get(Person, p.owner_id).name
        level = {"A": "Övergripande plan (nivå A)", "B": "Plan för verksamhetsområdet (nivå B)",
                 "C": "Plan för arbetsplatsen (nivå C)"}[p.level]
        identity[p.id] = f"Plan: {p.title} · {level} · Enhet: {unit} · Ägare: {owner}"
    owned = {p.id: [t for t in pages if identity[p.id] in t] for p in plans}
    # Every page about a plan carries the plan's title, level, unit and owner in its header, one plan a page.
    assert all(owned.values())
    assert all(sum(identity[p.id] in t for p in plans) <= 1 for t in pages)
    totals = {"gates": 0, "consultations": 0, "assessments": 0}
    for p in plans:
        text = " ".join(owned[p.id])
        action_ids = list(session.scalars(select(Action.id).where(Action.plan_id == p.id)))
        risk_gates = session.scalars(select(Gate).where(Gate.action_id.in_(action_ids))).all()
        plan_gates = session.scalars(select(Gate).where(Gate.plan_id == p.id)).all()
        consultations = session.scalars(select(Consultation).where(Consultation.plan_id == p.id)).all()
        assessments = session.scalars(
            select(RiskAssessment).where(RiskAssessment.action_id.in_(action_ids))
        ).all()
        # The gate titles and the safety representative's line occur only in this plan's own rows.
        assert text.count("Riskbedömning före förändring") == len(risk_gates), p.id
        assert text.count("Samverkan innan planen antas") == len(plan_gates), p.id
        assert text.count("Skyddsombud: ") == len(assessments), p.id
        for c in consultations:
            assert c.outcome in text and str(c.held_on.day) in text
        # Each assessment shows its approval next to it: decided, by whom and when.
        for r in assessments:
            gate = session.get(Gate, r.gate_id)
            if gate.status == "approved":
                decider = session.get(Person, gate.decided_by_id).name
                assert f"Godkänd {decider} " in text, (p.id, r.id)
        totals["gates"] += len(risk_gates) + len(plan_gates)
        totals["consultations"] += len(consultations)
        totals["assessments"] += len(assessments)
    process_gates = session.scalars(
        select(Gate).where(Gate.process_id == s.process_id, Gate.step_id.is_(None))
    ).all()
    assert totals["gates"] == len(process_gates)
    assert totals["assessments"] == len(
        session.scalars(select(RiskAssessment).where(RiskAssessment.process_id == s.process_id)).all()
    )
    assert totals["consultations"] == len(
        session.scalars(select(Consultation).where(
            Consultation.process_id == s.process_id, Consultation.plan_id.is_not(None))).all()
    )
    english = _pages_text(evidence_pack_pdf(session, s.process_id, "en"))
    assert any("Unit: " in t and "Owner: " in t and "Decision" in t for t in english)


def test_csv_is_utf8_with_bom_semicolons_and_round_trips_swedish_letters(session, followed_up):
    _, plan = followed_up
    actions = session.scalars(select(Action).where(Action.plan_id == plan.id).order_by(Action.id)).all()
    data = plan_csv(session, plan.id)
    assert isinstance(data, bytes) and data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    assert "Förväntad effekt".encode() in data  # å/ä/ö as UTF-8, not cp1252
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == ["Utvecklingsområde", "Mål", "Förväntad effekt", "Vad som görs", "Ansvarig", "Start",
                       "Slut", "Kostnadsberäkning", "Uppföljningsdatum", "Status", "Resultat"]
    assert len(rows) == 1 + len(actions) and all(len(r) == 11 for r in rows)
    for row, action in zip(rows[1:], actions, strict=True):
        assert row[0] == action.development_area and row[3] == action.description
        assert row[4] == session.get(Person, action.responsible_id).name
        assert row[5] == action.start_date.isoformat() and row[6] == action.end_date.isoformat()
        cost = action.cost_estimate
        assert row[7] == ("" if cost is None else f"{cost:g}".replace(".", ","))  # 87000, 1234,5
    assert any(set(cell) & set("åäöÅÄÖ") for row in rows[1:] for cell in row)
    english = plan_csv(session, plan.id, "en").decode("utf-8-sig")
    assert english.startswith("Development area;Goal;Expected effect;")


def test_xlsx_stores_dates_and_numbers_with_a_frozen_bold_sized_header(session, followed_up):
    _, plan = followed_up
    actions = session.scalars(select(Action).where(Action.plan_id == plan.id).order_by(Action.id)).all()
    book = load_workbook(io.BytesIO(plan_xlsx(session, plan.id)))
    sheet = book.active
    assert sheet.title == "Handlingsplan" and sheet.freeze_panes == "A2"
    assert plan.title in book.properties.title
    header = [c.value for c in sheet[1]]
    assert header[0] == "Utvecklingsområde" and all(c.font.b for c in sheet[1])
    assert sheet.auto_filter.ref == f"A1:K{1 + len(actions)}"
    for row, action in zip(sheet.iter_rows(min_row=2), actions, strict=True):
        start_cell, end_cell, cost, follow_up = row[5], row[6], row[7], row[8]
        assert start_cell.is_date and start_cell.value.date() == action.start_date
        assert end_cell.is_date and end_cell.value.date() == action.end_date
        assert start_cell.number_format == "yyyy-mm-dd"
        if action.follow_up_date:
            assert follow_up.is_date and follow_up.value.date() == action.follow_up_date
        if action.cost_estimate is not None:
            assert isinstance(cost.value, int | float) and cost.value == action.cost_estimate
            assert cost.number_format.startswith("#,##0")
        assert row[3].value == action.description
    widths = {c.value: sheet.column_dimensions[c.column_letter].width for c in sheet[1]}
    assert widths["Vad som görs"] >= len(actions[0].description[:40])
    assert all(8 <= w <= 50 for w in widths.values())
    assert widths["Start"] >= 10  # a date is not cut to ####


def test_history_is_told_in_swedish_and_english_sentences(session, followed_up):
    _, plan = followed_up
    html = plan_html(session, plan.id)
    for lang, adopted, started, change in (
        ("sv", "Planen antogs", "startades", "Planerad → Väntar på riskbedömning"),
        ("en", "The plan was adopted", "was started", "Planned → Risk assessment pending"),
    ):
        lines = plan_history_lines(session, plan.id, lang)
        whats = [line["what"] for line in lines]
        assert adopted in whats
        assert any(w.startswith(("Åtgärd 1 ”", "Action 1 “")) and w.endswith(started) for w in whats)
        assert change in [line["change"] for line in lines]
        # No codes as before: 'gate 13: approve', 'risk_assessment 1: recorded', 'recorded → recorded'.
        codes = re.compile(r"^[a-z_]+ \d+:|[a-z]_[a-z]|: (created|recorded|approve)$")
        for line in lines:
            assert not codes.search(line["what"]), line
            assert "_" not in line["change"] and "recorded" not in line["change"], line
            assert "flow:" not in line["who"] and line["when"], line
    assert "Planen antogs" in html and "Riskbedömning av åtgärd 1 ”" in html
    assert "risk_assessment" not in html and "gate " not in html
    assert "The plan was adopted" in plan_html(session, plan.id, "en")
    assert "Uppföljningsmöte hölls" in html


def _entry(entity, action, from_state=None, to_state=None, data=None, entity_id=1, label="person"):
    at = datetime(2027, 10, 6, 7, tzinfo=UTC)
    return HistoryEntry(at, entity, entity_id, action, from_state, to_state, None, label, data)


def test_history_sentences_cover_decisions_changes_and_unknown_events():
    title = Text(sv="Riskbedömning före förändring", en="Risk assessment before the change")
    subjects = HistorySubjects(actions={7: (2, "Inför stöd")}, gates={3: (title, 7)},
                               meetings={5: (date(2027, 11, 1), None)}, people={1: "Åsa Öberg", 2: "Per Ek"})
    reject = _entry("gate", "reject", "open", "rejected", {"reason": "Saknar åtgärd"}, entity_id=3)
    assert history_sentence("sv", reject, subjects) == (
        "Grinden ”Riskbedömning före förändring” för åtgärd 2 ”Inför stöd” avslogs: Saknar åtgärd")
    assert history_sentence("en", reject, subjects) == (
        "Gate “Risk assessment before the change” for action 2 “Inför stöd” was rejected: Saknar åtgärd")
    assert status_change("sv", reject) == "Öppen → Avslagen"
    moved = _entry("action", "changed", "in_progress", "in_progress",
                   {"revision": 1, "reassess": False, "fields": ["follow_up_date"]}, entity_id=7)
    assert history_sentence("sv", moved, subjects) == (
        "Åtgärd 2 ”Inför stöd” ändrades (version 1); riskbedömningen gäller fortfarande – Uppföljningsdatum")
    assert status_change("sv", moved) == ""
    renamed = _entry("plan", "changed", "draft", "draft",
                     {"before": {"title": "A", "owner_id": 1}, "after": {"title": "B", "owner_id": 2}})
    assert history_sentence("sv", renamed, subjects) == (
        "Planen ändrades: titel ”A” → ”B”; ägare Åsa Öberg → Per Ek")
    escalated = _entry("follow_up_meeting", "escalated", "scheduled", "scheduled", {"level_to": 2},
                       entity_id=5, label="flow:follow_up_sweep")
    assert history_sentence("sv", escalated, subjects) == (
        "Uppföljningsmötet 1 nov. 2027 eskalerades till nivå 2")
    assert history_sentence("en", escalated, subjects) == (
        "The follow-up meeting of 1 Nov 2027 was escalated to level 2")
    assert actor("sv", escalated) == "chefoskop (automatiskt)"
    unknown = _entry("risk_assessment", "withdrawn", "recorded", "withdrawn")
    assert history_sentence("sv", unknown, subjects) == "Riskbedömning: withdrawn"
