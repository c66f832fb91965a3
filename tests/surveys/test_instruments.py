"""Instruments as data: the shipped ones are valid; a broken file is refused with every error named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from surveys.errors import InstrumentRejected
from surveys.loader import (
    INSTRUMENTS_DIR,
    import_instrument,
    instrument_for,
    load_instrument_text,
    shipped_instruments,
)

BROKEN = """\
key: Bad Key
version: 0
mapping: 4
languages: [sv, en]
title: {sv: Trasig enkät}
audiences: [ledning]
colour: blue
scales:
  - key: s5
    points:
      - {value: 3, label: {sv: Tre, en: Three}}
      - {value: 1, label: {sv: Ett, en: One}}
      - {value: 2, label: {sv: Två, en: Two}}
sections:
  - key: first
    title: {sv: Första, en: First}
    items:
      - key: q1
        kind: likert
        scale: nope
        text: {sv: Fråga ett, en: Question one}
      - key: q1
        kind: single_choice
        polarity: positive
        options:
          - {value: a, label: {sv: A, en: A}}
        text: {sv: Fråga två, en: Question two}
      - key: q3
        kind: number
        minimum: 10
        maximum: 2
        text: {sv: Fråga tre, en: Question three}
      - key: q4
        kind: essay
        text: {sv: Fråga fyra, en: Question four}
"""

EXPECTED = {
    ("key", "string_pattern_mismatch"), ("version", "greater_than_equal"), ("mapping", "literal_error"),
    ("title", "missing_language"), ("audiences", "audience_needs_chef"), ("colour", "extra_forbidden"),
    ("scales[0].points", "scale_not_increasing"), ("sections[0].items[0].scale", "unknown_scale"),
    ("sections[0].items[0].polarity", "likert_needs_polarity"),
    ("sections[0].items[1].key", "duplicate_key"), ("sections[0].items[1].polarity", "not_for_kind"),
    ("sections[0].items[1].options", "choice_needs_options"),
    ("sections[0].items[2].minimum", "min_above_max"), ("sections[0].items[3].kind", "literal_error"),
}


def test_the_three_shipped_instruments_cover_the_three_mappings():
    found = shipped_instruments()
    assert sorted(found) == [1, 2, 3]
    assert found[2].kind == "logbook" and found[2].logbook.days == 5
    assert [c.key for c in found[2].logbook.areas] == [
        "personnel", "budget", "administration", "operations", "other"]
    assert [c.key for c in found[2].logbook.forms] == ["meetings", "computer", "travel", "other"]
    assert "ledning" in found[3].audiences
    polarities = {i.polarity for i in found[1].items() if i.kind == "likert"}
    assert polarities == {"positive", "negative"}
    assert {i.kind for i in found[1].items()} == {"likert", "number", "single_choice", "free_text"}
    for instrument in found.values():
        for item in instrument.items():
            assert item.text.sv and item.text.en


def test_a_broken_file_is_refused_with_every_error_named():
    with pytest.raises(InstrumentRejected) as caught:
        load_instrument_text(BROKEN)
    found = {(i.path, i.code) for i in caught.value.issues}
    assert found >= EXPECTED, EXPECTED - found
    lines = {i.path: i.line for i in caught.value.issues}
    assert lines["colour"] == 7 and lines["sections[0].items[0].scale"] == 20
    swedish = caught.value.messages("sv")
    assert any(m.startswith("sections[0].items[0].scale (rad 20):") and "nope" in m for m in swedish)
    english = caught.value.messages("en")
    assert any(m.startswith("colour (line 7): Unknown field.") for m in english)


def test_yaml_syntax_errors_name_their_line():
    with pytest.raises(InstrumentRejected) as caught:
        load_instrument_text("key: a\ntitle: {sv: x, en: y\nversion: 1\n")
    (issue,) = caught.value.issues
    assert issue.code == "yaml_syntax" and issue.line is not None


def test_a_file_that_is_not_a_mapping_is_refused():
    with pytest.raises(InstrumentRejected) as caught:
        load_instrument_text("- just\n- a list\n")
    assert [i.code for i in caught.value.issues] == ["not_a_mapping"]


def test_every_shipped_file_fails_loudly_when_an_item_loses_its_scale(tmp_path: Path):
    doc = yaml.safe_load((INSTRUMENTS_DIR / "1_krav_resurser.yaml").read_text(encoding="utf-8"))
    del doc["sections"][0]["items"][0]["scale"]
    del doc["sections"][1]["items"][1]["text"]["en"]
    with pytest.raises(InstrumentRejected) as caught:
        load_instrument_text(yaml.safe_dump(doc, allow_unicode=True))
    assert {(i.path, i.code) for i in caught.value.issues} == {
        ("sections[0].items[0].scale", "likert_needs_scale"),
        ("sections[1].items[1].text", "missing_language"),
    }


def test_an_organisation_uses_its_own_imported_instrument(session):
    from chefoskop.seed import build_organisation

    org = build_organisation(session, "Egen kommun", 2, seed=3).organisation
    own = (INSTRUMENTS_DIR / "1_krav_resurser.yaml").read_text(encoding="utf-8")
    own = own.replace("version: 1", "version: 7").replace("Krav och resurser i chefsuppdraget", "Vår egen")
    import_instrument(session, org.id, own)
    chosen = instrument_for(session, org.id, 1)
    assert (chosen.version, chosen.title.sv) == (7, "Vår egen")
    assert instrument_for(session, org.id, 3) == shipped_instruments()[3]
    with pytest.raises(InstrumentRejected):
        import_instrument(session, org.id, BROKEN)


LOGBOOK_AS_SURVEY = """\
key: min_loggbok
version: 1
mapping: 2
kind: survey
version: 2
title: {sv: Loggbok, en: Logbook}
scales:
  - key: s3
    points:
      - {value: 1, label: {sv: Ett, en: One}}
      - {value: 2, label: {sv: Två, en: Two}, label: {sv: Två igen, en: Two again}}
      - {value: 3, label: {sv: Tre, en: Three}}
sections:
  - key: first
    title: {sv: Första, en: First}
    items:
      - key: q1
        kind: likert
        scale: s3
        polarity: positive
        minimum: 1
        maximum: 3
        text: {sv: Fråga ett, en: Question one}
        text: {sv: Fråga ett igen, en: Question one again}
      - key: q2
        kind: single_choice
        integer: true
        options:
          - {value: a, label: {sv: A, en: A}}
          - {value: b, label: {sv: B, en: B}}
        text: {sv: Fråga två, en: Question two}
"""


def test_mapping_kinds_repeated_fields_and_bounds_on_scales_are_refused_with_path_and_line():
    with pytest.raises(InstrumentRejected) as caught:
        load_instrument_text(LOGBOOK_AS_SURVEY)
    found = {(i.path, i.code): i.line for i in caught.value.issues}
    assert found == {
        ("version", "duplicate_field"): 5,  # YAML would silently keep version 2
        ("scales[0].points[1].label", "duplicate_field"): 11,
        ("sections[0].items[0].text", "duplicate_field"): 24,
        ("kind", "mapping_kind"): 4,  # mapping 2 is the five-day logbook
        ("sections[0].items[0].minimum", "not_for_kind"): 21,
        ("sections[0].items[0].maximum", "not_for_kind"): 22,
        ("sections[0].items[1].integer", "not_for_kind"): 27,
    }
    swedish = caught.value.messages("sv")
    assert "kind (rad 4): Kartläggning 2 måste vara av typen logbook." in swedish
    assert "version (rad 5): Fältet version står två gånger här; en fil får bara ange det en gång." in swedish
    english = caught.value.messages("en")
    assert "sections[0].items[0].minimum (line 21): This field does not belong to a likert item." in english


def test_only_mapping_two_is_a_logbook():
    text = (INSTRUMENTS_DIR / "1_krav_resurser.yaml").read_text(encoding="utf-8")
    with pytest.raises(InstrumentRejected) as caught:
        load_instrument_text(text.replace("kind: survey", "kind: logbook"))
    assert ("kind", "mapping_kind") in {(i.path, i.code) for i in caught.value.issues}
    logbook = (INSTRUMENTS_DIR / "2_loggbok.yaml").read_text(encoding="utf-8")
    with pytest.raises(InstrumentRejected) as caught:
        load_instrument_text(logbook.replace("kind: logbook\n", ""))  # the default kind is survey
    assert ("kind", "mapping_kind") in {(i.path, i.code) for i in caught.value.issues}
    assert load_instrument_text(logbook).kind == "logbook"
