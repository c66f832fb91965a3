"""Import files fuzzed with Hypothesis: CSV, XLSX and instrument YAML are refused with reasons,
never with a crash, and a refused file writes nothing.

Examples per property: CHEFOSKOP_FUZZ_EXAMPLES (default 40 here; raise it locally).
"""

from __future__ import annotations

import copy
import io
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from surveys.errors import InstrumentRejected
from surveys.loader import INSTRUMENTS_DIR, load_instrument_text
from surveys.schema import Instrument
from tests import helpers

EXAMPLES = int(os.environ.get("CHEFOSKOP_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

COLUMNS = st.sampled_from(["code", "kod", "name", "namn", "level", "nivå", "parent_code", "email",
                           "e-post", "unit_code", "enhet", "title", "role", "roll", "body", "", "x"])
CELLS = st.one_of(st.sampled_from(["A", "B", "C", "D", "A1", "NA", "chef", "processledare",
                                   "kung", "ok@test.se", "inte-en-adress", "", " ", "=1+1"]),
                  st.text(max_size=40))
TABLE = st.lists(st.lists(CELLS, max_size=6), max_size=12)


def _csv(header: list[str], rows: list[list[str]], delimiter: str) -> bytes:
    lines = [delimiter.join(header)] + [delimiter.join(r) for r in rows]
    return "\n".join(lines).encode("utf-8")


def _xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name[:31] or "Blad")
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


VALID_BOOK = _xlsx({"Enheter": [["Kod", "Namn", "Nivå", "Överordnad"], ["NX", "Östra", "B", "A1"]],
                    "Personer": [["Namn", "E-post", "Enhet"], ["Åsa Öberg", "asa@test.se", "NX"]]})


def _damaged(changes: list[tuple[float, int]]) -> bytes:
    """A valid workbook with some of its bytes overwritten (a broken download, a bad disk)."""
    data = bytearray(VALID_BOOK)
    for where, value in changes:
        data[int(where * len(data))] = value
    return bytes(data)


CSV_FILES = st.one_of(
    st.binary(max_size=600),
    st.builds(_csv, st.lists(COLUMNS, min_size=1, max_size=6), TABLE, st.sampled_from([",", ";", "\t"])),
)
# A workbook cannot hold control characters (openpyxl refuses to write them).
SHEET_CELLS = st.one_of(CELLS.filter(lambda c: c.isprintable()),
                        st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
SHEET_NAMES = st.sampled_from(["units", "Enheter", "people", "Personer", "roles", "Roller", "Blad1"])
XLSX_FILES = st.one_of(
    st.builds(_xlsx, st.dictionaries(SHEET_NAMES, st.lists(st.lists(
        st.one_of(SHEET_CELLS, st.integers(-5, 10**6), st.floats(allow_nan=False), st.none()), max_size=6),
        max_size=10), min_size=1, max_size=3)),
    st.binary(max_size=400).map(lambda b: b"PK\x03\x04" + b),
    st.builds(_damaged, st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                                 min_size=1, max_size=8)),
)


def _check_import_answer(r, session, before) -> None:
    assert r.status_code in (200, 413, 422), (r.status_code, r.text[:500])
    if r.status_code == 200:
        assert r.json()["dry_run"] is True
    else:
        assert r.headers["content-type"] == "application/problem+json"
        errors = r.json()["errors"]
        assert errors and all(e["reason"] and e["message"] and e["field"] for e in errors), errors
        assert all("row" in e for e in errors if e.get("sheet") in ("units", "people", "roles")
                   and e["reason"] not in ("unreadable", "empty", "too_many_rows", "duplicate_sheet")), errors
    assert helpers.snapshot(session) == before  # a dry run, or a refusal, writes nothing


def test_fuzzed_csv_files_are_refused_with_reasons(client, world, session):
    headers = world.h("admin")
    client.get("/api/v1/tasks", headers=headers)  # the token's first use is noted before the snapshot
    before = helpers.snapshot(session)

    @given(files=st.dictionaries(st.sampled_from(["units", "people", "roles"]), CSV_FILES,
                                 min_size=1, max_size=3))
    @FUZZ
    def check(files: dict[str, bytes]) -> None:
        upload = {k: (f"{k}.csv", v, "text/csv") for k, v in files.items()}
        r = client.post("/api/v1/imports/structure", headers=headers, files=upload,
                        data={"dry_run": "true"})
        _check_import_answer(r, session, before)

    check()


def test_fuzzed_workbooks_are_refused_with_reasons(client, world, session):
    headers = world.h("admin")
    client.get("/api/v1/tasks", headers=headers)
    before = helpers.snapshot(session)

    @given(data=XLSX_FILES)
    @FUZZ
    def check(data: bytes) -> None:
        r = client.post("/api/v1/imports/structure", headers=headers,
                        files={"workbook": ("book.xlsx", data)}, data={"dry_run": "true"})
        _check_import_answer(r, session, before)

    check()


OFFICIAL = yaml.safe_load((INSTRUMENTS_DIR / "1_krav_resurser.yaml").read_text(encoding="utf-8"))
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.text(max_size=20),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                      max_size=2))


def _paths(node, prefix=()):
    """Every path into a parsed YAML document."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(OFFICIAL) if p]


@st.composite
def mutated_instruments(draw) -> str:
    """The official instrument with a few parts replaced by junk or removed, as YAML text."""
    doc = copy.deepcopy(OFFICIAL)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(JUNK)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the way there
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


YAML_TEXTS = st.one_of(mutated_instruments(), st.text(max_size=300),
                       st.binary(max_size=200).map(lambda b: b.decode("latin-1")))


@given(text=YAML_TEXTS)
@FUZZ
def test_fuzzed_instrument_files_are_refused_with_every_problem_named(text: str) -> None:
    try:
        instrument = load_instrument_text(text)
    except InstrumentRejected as exc:
        assert exc.issues
        for locale in ("sv", "en"):
            lines = exc.messages(locale)
            assert len(lines) == len(exc.issues) and all(": " in line and line.split(": ", 1)[1]
                                                         for line in lines), lines
    else:
        assert isinstance(instrument, Instrument)
