"""Calendar invitations (iCalendar, METHOD:REQUEST) for meetings of the process.

The UID is stable per meeting and SEQUENCE grows with each change, so a calendar
updates the existing entry instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress

PRODID = "-//Chefoskop//Chefoskop//SV"
STOCKHOLM = "Europe/Stockholm"


def _parse(value: datetime | str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    if parsed.tzinfo is None:
        raise ValueError(f"meeting time without a UTC offset: {value!r}")
    return parsed


def _stockholm_vtimezone() -> Timezone:
    """Central European time with the EU summer-time rule (last Sunday of March/October)."""
    tz = Timezone()
    tz.add("tzid", STOCKHOLM)
    summer = TimezoneDaylight()
    summer.add("tzname", "CEST")
    summer.add("dtstart", datetime(1970, 3, 29, 2, 0, 0))
    summer.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    summer.add("tzoffsetfrom", timedelta(hours=1))
    summer.add("tzoffsetto", timedelta(hours=2))
    winter = TimezoneStandard()
    winter.add("tzname", "CET")
    winter.add("dtstart", datetime(1970, 10, 25, 3, 0, 0))
    winter.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    winter.add("tzoffsetfrom", timedelta(hours=2))
    winter.add("tzoffsetto", timedelta(hours=1))
    tz.add_component(summer)
    tz.add_component(winter)
    return tz


def _address(email: str, name: str | None, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["cn"] = name
    for key, value in params.items():
        address.params[key.replace("_", "-")] = value
    return address


def _attendee(person: Mapping[str, str | None]) -> vCalAddress:
    return _address(
        str(person["email"]),
        person.get("name"),
        cutype="INDIVIDUAL",
        role="REQ-PARTICIPANT",
        partstat="NEEDS-ACTION",
        rsvp="TRUE",
    )


def build_invite(
    *,
    uid: str,
    sequence: int,
    summary: str,
    start: datetime | str,
    end: datetime | str,
    organizer_email: str,
    organizer_name: str | None,
    attendees: Iterable[Mapping[str, str | None]],
    description: str | None = None,
    location: str | None = None,
    dtstamp: datetime | None = None,
    tz: str = STOCKHOLM,
) -> bytes:
    """An iCalendar REQUEST for one meeting, with local times and a VTIMEZONE."""
    zone = ZoneInfo(tz)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", int(sequence))
    event.add("dtstamp", (dtstamp or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", _parse(start).astimezone(zone))
    event.add("dtend", _parse(end).astimezone(zone))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(organizer_email, organizer_name))
    for person in attendees:
        event.add("attendee", _attendee(person))

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    if tz == STOCKHOLM:
        calendar.add_component(_stockholm_vtimezone())
    calendar.add_component(event)
    if tz != STOCKHOLM:
        calendar.add_missing_timezones()
    return calendar.to_ical()
