"""A plan as PDF, CSV and XLSX; the evidence pack as one PDF. Swedish by default, English on request."""

from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from chefoskop.i18n import gettext, normalise_locale
from flows.engine.queries import get
from models import ActionPlan, Unit
from plans.content import COLUMNS, action_rows, evidence_context, plan_context
from plans.render import html_to_pdf, render_html


def plan_html(session: Session, plan_id: int, locale: str = "sv") -> str:
    """The plan as an HTML document (what the PDF is made from)."""
    lang = normalise_locale(locale)
    return render_html("plan.html", plan_context(session, plan_id, lang), lang)


def plan_pdf(session: Session, plan_id: int, locale: str = "sv") -> bytes:
    """The plan as a PDF: areas, actions with their assessments, consultations, follow-ups, history."""
    return html_to_pdf(plan_html(session, plan_id, locale))


# CSV for Excel as Swedish offices have it set up: UTF-8 with a byte-order mark (without it Excel
# reads å, ä and ö as cp1252), ';' between fields (the list separator of Swedish regional settings,
# and what the survey CSVs use), one header row, dates ISO 8601 (2027-10-19, read as dates by Excel
# in either language), numbers without grouping and with the language's decimal sign.
CSV_DELIMITER = ";"
CSV_ENCODING = "utf-8-sig"
DATE_FORMAT = "yyyy-mm-dd"
MIN_WIDTH, MAX_WIDTH = 8, 50


def _table(session: Session, plan_id: int, lang: str) -> tuple[list[str], list[list]]:
    return [gettext(lang, c) for c in COLUMNS], action_rows(session, plan_id, lang)


def _csv_value(value, lang: str):
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(int(value)) if float(value).is_integer() else f"{value:.2f}"
        return text.replace(".", ",") if lang == "sv" else text
    return value


def plan_csv(session: Session, plan_id: int, locale: str = "sv") -> bytes:
    """The plan's actions as a CSV file: UTF-8 with BOM, ';'-separated, one header row (see above)."""
    lang = normalise_locale(locale)
    headers, rows = _table(session, plan_id, lang)
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=CSV_DELIMITER)
    writer.writerow(headers)
    writer.writerows([_csv_value(v, lang) for v in row] for row in rows)
    return out.getvalue().encode(CSV_ENCODING)


def _width(value) -> int:
    if isinstance(value, date):
        return 10
    if isinstance(value, int | float):
        return len(f"{value:,.0f}") + 3
    return max((len(line) for line in str(value or "").splitlines()), default=0)


def plan_xlsx(session: Session, plan_id: int, locale: str = "sv") -> bytes:
    """The plan's actions as an Excel workbook: one sheet, a bold frozen header row with a filter,
    dates as dates, the cost as a number, columns sized to their content (long texts wrap)."""
    lang = normalise_locale(locale)
    headers, rows = _table(session, plan_id, lang)
    plan = get(session, ActionPlan, plan_id)
    unit = session.get(Unit, plan.unit_id) if plan.unit_id else None
    book = Workbook()
    book.properties.title = f"{plan.title} – {unit.name}" if unit else plan.title
    book.properties.creator = "chefoskop"
    sheet = book.active
    sheet.title = gettext(lang, "Action plan")[:31]
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EEF5")
        cell.alignment = Alignment(vertical="top", wrap_text=True)
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, date):
                cell.number_format = DATE_FORMAT
            elif isinstance(cell.value, int | float):
                cell.number_format = "#,##0" if float(cell.value).is_integer() else "#,##0.00"
            cell.alignment = Alignment(vertical="top", wrap_text=isinstance(cell.value, str))
    for index, header in enumerate(headers, 1):
        widest = max([max(map(len, header.split()), default=0)] + [_width(row[index - 1]) for row in rows])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, MIN_WIDTH), MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
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
