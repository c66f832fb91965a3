"""Reading instruments: the shipped ones, an organisation's own file, and stored snapshots.

``parse_instrument`` is the only way to build an ``Instrument``: it runs the shape
check (pydantic) and the cross-field checks together and, when anything is wrong,
raises ``InstrumentRejected`` naming every problem with its path and YAML line.
``load_instrument_text`` also refuses a field written twice in one place of the
text (YAML readers silently keep the last one).
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.surveys import OrganisationInstrument
from surveys.checks import cross_field_issues, duplicate_fields, path_text
from surveys.errors import MESSAGES, InstrumentRejected, Issue
from surveys.schema import Instrument

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"

_PYDANTIC_CODES = {
    "int_parsing": "int_type", "int_from_float": "int_type", "float_type": "number_type",
    "float_parsing": "number_type", "bool_parsing": "bool_type", "model_type": "not_a_mapping",
    "model_attributes_type": "not_a_mapping", "dict_type": "not_a_mapping",
    "tuple_type": "list_type",
}


def _code_of(error: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = _PYDANTIC_CODES.get(error["type"], error["type"])
    if kind not in MESSAGES:
        return "invalid", {"detail": error["msg"]}
    ctx = error.get("ctx") or {}
    params = {k: ctx[k] for k in ("expected", "min_length", "max_length", "ge", "gt", "le") if k in ctx}
    if isinstance(params.get("expected"), str):  # pydantic's "1, 2 or 3": a list in any language
        params["expected"] = params["expected"].replace(" or ", ", ")
    return kind, params


def _line_of(root: yaml.Node | None, path: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the deepest node along ``path`` in the YAML tree."""
    node, line = root, None
    for part in path:
        if node is None:
            break
        line = node.start_mark.line + 1
        node = _child(node, part)
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if k.value == str(part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def _parse_path(text: str) -> tuple[str | int, ...]:
    """Turn ``sections[1].items[0]`` back into a path tuple (for line look-up)."""
    parts: list[str | int] = []
    for chunk in text.replace("]", "").split("."):
        name, *indices = chunk.split("[")
        if name:
            parts.append(name)
        parts += [int(i) for i in indices]
    return tuple(parts)


def _shape_issues(doc: dict) -> list[Issue]:
    try:
        Instrument.model_validate(doc)
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            code, params = _code_of(error)
            issues.append(Issue(path_text(tuple(error["loc"])), code, params))
        return issues
    return []


def parse_instrument(doc: Any, root: yaml.Node | None = None) -> Instrument:
    """Validate a raw instrument document; raises InstrumentRejected naming every problem."""
    if not isinstance(doc, dict):
        raise InstrumentRejected([Issue("", "not_a_mapping", line=1 if root else None)])
    found = _shape_issues(doc) + cross_field_issues(doc)
    if found:
        unique = list({(i.path, i.code, repr(i.params)): i for i in found}.values())
        located = [Issue(i.path, i.code, i.params, _line_of(root, _parse_path(i.path)))
                   for i in unique]
        raise InstrumentRejected(sorted(located, key=lambda i: (i.line or 0, i.path)))
    return Instrument.model_validate(doc)


def load_instrument_text(text: str) -> Instrument:
    """Parse an instrument from YAML text; raises InstrumentRejected naming every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InstrumentRejected([Issue("", "yaml_syntax", {"problem": problem},
                                        mark.line + 1 if mark else None)]) from exc
    twice = duplicate_fields(root)  # the parsed document kept only the last of each
    try:
        instrument = parse_instrument(doc, root)
    except InstrumentRejected as exc:
        raise InstrumentRejected(sorted(twice + exc.issues, key=lambda i: (i.line or 0, i.path))) from None
    if twice:
        raise InstrumentRejected(twice)
    return instrument


def load_instrument_file(path: str | Path) -> Instrument:
    """Parse an instrument from a YAML file."""
    return load_instrument_text(Path(path).read_text(encoding="utf-8"))


@cache
def shipped_instruments() -> dict[int, Instrument]:
    """The instruments shipped with chefoskop, by mapping number (1-3)."""
    found = [load_instrument_file(p) for p in sorted(INSTRUMENTS_DIR.glob("*.yaml"))]
    return {i.mapping: i for i in found}


def to_document(instrument: Instrument) -> dict:
    """The instrument as a JSON-ready document (the snapshot a survey keeps)."""
    return instrument.model_dump(mode="json", exclude_none=True)


def from_document(doc: dict) -> Instrument:
    """The instrument of a stored snapshot, parsed and checked once per distinct snapshot."""
    try:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # not JSON data, so not a stored snapshot: no cache
        return parse_instrument(doc)
    return _parse_snapshot(text)


@lru_cache(maxsize=32)
def _parse_snapshot(text: str) -> Instrument:
    # Instruments are frozen, so one parsed snapshot can serve every caller.
    return parse_instrument(json.loads(text))


def import_instrument(session: Session, organisation_id: int, text: str, *,
                      imported_by_id: int | None = None) -> OrganisationInstrument:
    """Validate and store an organisation's own instrument (newest version wins); flushes."""
    instrument = load_instrument_text(text)
    row = session.scalar(select(OrganisationInstrument).where(
        OrganisationInstrument.organisation_id == organisation_id,
        OrganisationInstrument.key == instrument.key,
        OrganisationInstrument.version == instrument.version))
    if row is None:
        row = OrganisationInstrument(organisation_id=organisation_id, key=instrument.key,
                                     version=instrument.version, mapping=instrument.mapping,
                                     imported_by_id=imported_by_id)
        session.add(row)
    row.document = to_document(instrument)
    session.flush()
    return row


def instrument_for(session: Session, organisation_id: int, mapping: int) -> Instrument:
    """The instrument an organisation uses for ``mapping``: its own newest import, else ours."""
    row = session.scalar(select(OrganisationInstrument).where(
        OrganisationInstrument.organisation_id == organisation_id,
        OrganisationInstrument.mapping == mapping,
    ).order_by(OrganisationInstrument.imported_at.desc(), OrganisationInstrument.id.desc()))
    return from_document(row.document) if row else shipped_instruments()[mapping]
