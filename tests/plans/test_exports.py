"""The exports open: PDF pages render and are not blank, the XLSX loads, the CSV parses."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pypdfium2 as pdfium
from openpyxl import load_workbook
from sqlalchemy import select

from flows import engine
from models import Action, ActionPlan
from plans import evidence_pack_pdf, plan_csv, plan_pdf, plan_xlsx
from plans.export import evidence_pack_html, plan_html
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
    rows = list(csv.reader(io.StringIO(plan_csv(session, plan.id))))
    assert rows[0][0] == "Utvecklingsområde" and len(rows) == 1 + len(actions)
    assert {r[9] for r in rows[1:]} <= {"Pågår", "Klar", "Godkänd", "Planerad", "Väntar på riskbedömning"}
    sheet = load_workbook(io.BytesIO(plan_xlsx(session, plan.id, "en"))).active
    values = list(sheet.values)
    assert values[0][0] == "Development area" and len(values) == 1 + len(actions)
    assert values[1][3] == actions[0].description
    pack = evidence_pack_html(session, s.process_id)
    assert "Riskbedömningar" in pack and "Samverkan" in pack and "Processägarens godkännande" in pack
    assert _first_page_is_drawn(evidence_pack_pdf(session, s.process_id)) >= 2
