"""Reading uploaded CSV files and XLSX workbooks into sheets of text rows."""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime

from api.problems import Issue

MAX_ROWS = 20_000
SHEETS = ("units", "people", "roles")
SHEET_ALIASES = {"units": "units", "enheter": "units", "people": "people", "personer": "people",
                 "roles": "roles", "roller": "roles"}
COLUMN_ALIASES = {
    "code": "code", "kod": "code", "enhetskod": "code", "name": "name", "namn": "name",
    "level": "level", "nivå": "level", "niva": "level", "parent_code": "parent_code",
    "parent": "parent_code", "överordnad": "parent_code", "overordnad": "parent_code",
    "email": "email", "e-mail": "email", "e-post": "email", "epost": "email", "mejl": "email",
    "unit_code": "unit_code", "unit": "unit_code", "enhet": "unit_code", "title": "title",
    "titel": "title", "role": "role", "roll": "role", "body": "body", "organ": "body",
    "grupp": "body",
}


@dataclass
class Row:
    """One data row: its number as a spreadsheet shows it, and its cells by column."""

    number: int
    cells: dict[str, str]


@dataclass
class Sheet:
    """The rows of one kind (units, people or roles) and the columns the file had.

    ``name`` is the kind; ``label`` what the user called the sheet (a workbook's sheet title,
    such as "Enheter"; for a CSV file its upload field), which every error names.
    """

    name: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or self.name


class ParseError(Exception):
    """A file that cannot be read at all."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.reason)
        self.issue = issue


def _column(header: object) -> str:
    name = str(header or "").strip().lower().replace(" ", "_")
    return COLUMN_ALIASES.get(name, name)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value).strip()


def _sheet(name: str, records: list[list[object]], first_row: int, label: str = "") -> Sheet:
    label = label or name
    if not records:
        raise ParseError(Issue("file", "empty", sheet=label))
    columns = [_column(h) for h in records[0]]
    sheet = Sheet(name, [c for c in columns if c], label=label)
    for offset, values in enumerate(records[1:], start=1):
        cells = {c: _cell(v) for c, v in zip(columns, values, strict=False) if c}
        if any(cells.values()):
            sheet.rows.append(Row(first_row + offset, cells))
        if len(sheet.rows) > MAX_ROWS:
            raise ParseError(Issue("file", "too_many_rows", sheet=label))
    return sheet


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ParseError(Issue("file", "unreadable", sheet=name))


def read_csv(name: str, data: bytes) -> Sheet:
    """One CSV file (comma, semicolon or tab separated; UTF-8 or Windows-1252)."""
    if data.startswith(b"PK\x03\x04") or b"\x00" in data:
        raise ParseError(Issue("file", "unreadable", sheet=name))
    text = _decode(data, name)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        records = [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error:
        raise ParseError(Issue("file", "unreadable", sheet=name)) from None
    return _sheet(name, records, 1)


# What a damaged workbook can raise while it is opened or read: a broken zip container or
# compressed stream, missing parts, malformed XML, values of the wrong type, or zip entries
# that are encrypted or use a feature zipfile does not read (RuntimeError, NotImplementedError).
UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, IndexError, OSError, ValueError,
              TypeError, AttributeError, SyntaxError, RuntimeError)


def read_workbook(data: bytes) -> list[Sheet]:
    """The units, people and roles sheets of an XLSX workbook (Swedish sheet names too), each
    labelled with its title as written; two sheets of one kind are refused."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except UNREADABLE:
        raise ParseError(Issue("file", "unreadable", sheet="workbook")) from None
    try:
        sheets: list[Sheet] = []
        for title in book.sheetnames:
            kind, label = SHEET_ALIASES.get(title.strip().lower()), title.strip()
            if kind is None:
                continue
            if any(s.name == kind for s in sheets):
                raise ParseError(Issue(label, "duplicate_sheet", sheet=label))
            records = []
            for values in book[title].iter_rows(values_only=True):
                records.append(list(values))
                if len(records) > MAX_ROWS + 1:
                    raise ParseError(Issue("file", "too_many_rows", sheet=label))
            sheets.append(_sheet(kind, records, 1, label))
    except UNREADABLE:  # a sheet is read lazily: its damage shows only here
        raise ParseError(Issue("file", "unreadable", sheet="workbook")) from None
    finally:
        book.close()
    if not sheets:
        raise ParseError(Issue("file", "no_sheets", sheet="workbook"))
    return sheets
