"""The Swedish words for when a step opened and closed: participles, one form for both."""

from __future__ import annotations

from chefoskop import i18n


def test_opened_and_closed_read_as_participles_in_swedish() -> None:
    assert i18n.gettext("sv", "Opened %(date)s", date="3 maj 2027") == "Öppnad 3 maj 2027"
    assert i18n.gettext("sv", "Closed %(date)s", date="12 maj 2027") == "Stängd 12 maj 2027"
    assert i18n.gettext("en", "Closed %(date)s", date="12 May 2027") == "Closed 12 May 2027"
