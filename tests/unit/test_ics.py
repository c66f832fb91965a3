"""Calendar invitations: a REQUEST with a stable UID, local times and a VTIMEZONE."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from notifications.ics import build_invite
from notifications.render import render

ATTENDEES = [{"name": "Anna Berg", "email": "anna@vs.example"},
             {"name": "Bo Ek", "email": "bo@vs.example"}]


def _invite(**overrides: object) -> bytes:
    values: dict[str, object] = {
        "uid": "meeting-12@chefoskop.local",
        "sequence": 0,
        "summary": "Dela värld, del 1; resultat",
        "description": "Vi går igenom resultaten.",
        "start": "2027-04-08T07:00:00+00:00",
        "end": "2027-04-08T10:00:00+00:00",
        "location": "Stadshuset",
        "organizer_email": "pia@vs.example",
        "organizer_name": "Pia Lind",
        "attendees": ATTENDEES,
        "dtstamp": datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return build_invite(**values)  # type: ignore[arg-type]


def _event(raw: bytes):
    calendar = Calendar.from_ical(raw)
    return calendar, next(iter(calendar.walk("VEVENT")))


def test_invite_is_a_request_with_stable_identity() -> None:
    raw = _invite()
    calendar, event = _event(raw)
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert str(event["UID"]) == "meeting-12@chefoskop.local"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["SUMMARY"]) == "Dela värld, del 1; resultat"
    assert event.decoded("DTSTAMP") == datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    assert b"\r\n" in raw and raw.endswith(b"\r\n")


def test_times_are_local_to_stockholm_with_a_timezone_definition() -> None:
    calendar, event = _event(_invite())
    zones = list(calendar.walk("VTIMEZONE"))
    assert [str(z["TZID"]) for z in zones] == ["Europe/Stockholm"]
    assert {c.name for c in zones[0].subcomponents} == {"STANDARD", "DAYLIGHT"}
    assert event["DTSTART"].params["TZID"] == "Europe/Stockholm"
    start = event.decoded("DTSTART")
    assert (start.hour, start.minute) == (9, 0)  # 07:00 UTC is 09:00 summer time
    assert start.astimezone(UTC) == datetime(2027, 4, 8, 7, 0, tzinfo=UTC)
    assert event.decoded("DTEND").astimezone(UTC) == datetime(2027, 4, 8, 10, 0, tzinfo=UTC)


def test_organizer_and_attendees_are_asked_to_reply() -> None:
    _, event = _event(_invite())
    assert str(event["ORGANIZER"]) == "mailto:pia@vs.example"
    assert event["ORGANIZER"].params["CN"] == "Pia Lind"
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:anna@vs.example", "mailto:bo@vs.example"]
    for attendee in attendees:
        assert attendee.params["RSVP"] == "TRUE"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"


def test_an_update_keeps_the_uid_and_raises_the_sequence() -> None:
    _, first = _event(_invite())
    _, second = _event(_invite(sequence=1, start="2027-04-09T07:00:00+00:00",
                               end="2027-04-09T10:00:00+00:00"))
    assert first["UID"] == second["UID"]
    assert int(second["SEQUENCE"]) == 1


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        _invite(start="2027-04-08T09:00:00")


def test_render_attaches_a_localised_invite() -> None:
    payload = {
        "recipient_name": "Anna Berg", "process_id": 1, "process_name": "Chefoskopet",
        "organisation_name": "Västra Söderbotten", "uid": "m-1@chefoskop.local", "sequence": 2,
        "summary": {"sv": "Dela värld", "en": "Sharing the picture"},
        "start": "2027-04-08T09:00:00+02:00", "end": "2027-04-08T12:00:00+02:00",
        "location": None, "organizer_email": "pia@vs.example", "organizer_name": "Pia Lind",
        "attendees": ATTENDEES,
    }
    mail = render("meeting_invite", "en", payload, base_url="https://x.example")
    assert mail.ics is not None
    _, event = _event(mail.ics)
    assert str(event["SUMMARY"]) == "Sharing the picture"
    assert int(event["SEQUENCE"]) == 2
    assert "LOCATION" not in event
    assert mail.subject == "Updated invitation: Sharing the picture"
