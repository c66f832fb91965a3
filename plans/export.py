"""A plan as PDF, CSV and XLSX; the evidence pack as one PDF. Swedish by default, English on request."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from chefoskop.i18n import gettext, normalise_locale
from plans.content import COLUMNS, action_rows, evidence_context, plan_context
from plans.render import html_to_pdf, render_html


def plan_html(session: Session, plan_id: int, locale: str = "sv") -> str:
    """The plan as an HTML document (what the PDF is made from)."""
    lang = normalise_locale(locale)
    return render_html("plan.html", plan_context(session, plan_id, lang), lang)


def plan_pdf(session: Session, plan_id: int, locale: str = "sv") -> bytes:
    """The plan as a PDF: areas, actions with their assessments, consultations, follow-ups, history."""
    return html_to_pdf(plan_html(session, plan_id, locale))


def _table(session: Session, plan_id: int, locale: str) -> tuple[list[str], list[list]]:
    lang = normalise_locale(locale)
    return [gettext(lang, c) for c in COLUMNS], action_rows(session, plan_id, lang)


def plan_csv(session: Session, plan_id: int, locale: str = "sv") -> str:
    """The plan's actions as CSV text (comma-separated, one header row)."""
    headers, rows = _table(session, plan_id, locale)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def plan_xlsx(session: Session, plan_id: int, locale: str = "sv") -> bytes:
    """The plan's actions as an Excel workbook (one sheet, bold header row)."""
    headers, rows = _table(session, plan_id, locale)
    book = Workbook()
    sheet = book.active
    sheet.title = gettext(normalise_locale(locale), "Action plan")[:31]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def evidence_pack_html(session: Session, process_id: int, locale: str = "sv") -> str:
    """The evidence pack as an HTML document."""
    lang = normalise_locale(locale)
    return render_html("evidence.html", evidence_context(session, process_id, lang), lang)


def evidence_pack_pdf(session: Session, process_id: int, locale: str = "sv") -> bytes:
    """Every gate with its decision, every consultation and risk assessment, with dates and names."""
    return html_to_pdf(evidence_pack_html(session, process_id, locale))
