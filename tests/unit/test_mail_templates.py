"""Every notification kind renders in Swedish and English, safely and completely."""

from __future__ import annotations

import re
from typing import Any

import pytest

from notifications.links import read_task_token
from notifications.outbox import KINDS
from notifications.render import RenderError, get_environment, localise, render

BASE_URL = "https://chefoskop.example.se"
EVIL = "<script>alert(1)</script>"


def bi(sv: str, en: str) -> dict[str, str]:
    return {"sv": sv, "en": en}


COMMON = {
    "recipient_name": "Anna Berg",
    "process_id": 7,
    "process_name": "Chefoskopet 2027",
    "organisation_name": "Västra Söderbottens kommun",
}
TASK = {
    **COMMON,
    "task_id": 41,
    "task_route_version": 2,
    "task_title": bi("Boka lokal för dialogen", "Book a room for the dialogue"),
    "step_number": 4,
    "step_title": bi("Krav och resurser", "Demands and resources"),
    "due_date": "2027-03-19",
    "reopen_reason": None,
}
ITEM = {key: TASK[key] for key in ("task_id", "task_route_version", "task_title", "process_name",
                                    "step_number", "step_title", "due_date")}
SAMPLES: dict[str, dict[str, Any]] = {
    "task_assigned": TASK,
    "task_reminder": TASK,
    "task_overdue": {**TASK, "reopen_reason": "Bilagan saknades."},
    "escalation": {**TASK, "assignee_name": "Bo Ek", "overdue_days": 4, "level": 1},
    "gate_waiting": {**COMMON, "gate_id": 3, "gate_title": bi("Riskbedömning", "Risk assessment"),
                     "step_number": 8, "step_title": bi("Åtgärda", "Act")},
    "gate_decided": {**COMMON, "gate_id": 3, "gate_title": bi("Riskbedömning", "Risk assessment"),
                     "decision": "rejected", "reason": "Skyddsombudet deltog inte.",
                     "decided_by_name": "Pia Lind"},
    "step_opened": {**COMMON, "step_number": 5,
                    "step_title": bi("Arbetstidens fördelning", "How working time is spent")},
    "process_completed": COMMON,
    "meeting_invite": {
        **COMMON, "uid": "meeting-12@chefoskop.local", "sequence": 0,
        "summary": bi("Dela värld", "Sharing the picture"),
        "description": bi("Vi går igenom resultaten.", "We go through the results."),
        "start": "2027-04-08T09:00:00+02:00", "end": "2027-04-08T12:00:00+02:00",
        "location": "Stadshuset", "organizer_email": "pia@vs.example", "organizer_name": "Pia Lind",
        "attendees": [{"name": "Anna Berg", "email": "anna@vs.example"}], "task_id": None,
    },
    "digest": {"recipient_name": "Anna Berg", "organisation_name": "Västra Söderbottens kommun",
               "items": [ITEM, {**ITEM, "task_id": 42, "due_date": None}]},
}


def test_samples_cover_every_kind() -> None:
    assert set(SAMPLES) == KINDS


@pytest.mark.parametrize("locale", ["sv", "en"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders(kind: str, locale: str) -> None:
    mail = render(kind, locale, SAMPLES[kind], base_url=BASE_URL, recipient_id=5)
    assert mail.subject and "\n" not in mail.subject
    assert mail.text.strip() and mail.html.strip()
    assert f'<html lang="{locale}">' in mail.html
    assert "<title>" in mail.html and "</html>" in mail.html
    assert mail.text.startswith("Hej Anna Berg!" if locale == "sv" else "Hello Anna Berg,")
    for leftover in ("{{", "{%", "%(", "Undefined"):
        assert leftover not in mail.text + mail.html + mail.subject
    assert (mail.ics is not None) == (kind == "meeting_invite")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_swedish_mail_has_no_english_sentences(kind: str) -> None:
    mail = render(kind, "sv", SAMPLES[kind], base_url=BASE_URL, recipient_id=5)
    for english in ("Hello", "You ", "The ", "Open the", "task", "Step "):
        assert english not in mail.text, english


def _poisoned(payload: dict[str, Any]) -> dict[str, Any]:
    text_keys = ("recipient_name", "process_name", "organisation_name", "reason", "reopen_reason",
                 "assignee_name", "decided_by_name", "location", "organizer_name")
    poisoned = {key: EVIL if key in text_keys else value for key, value in payload.items()}
    for key in ("task_title", "step_title", "gate_title", "summary", "description"):
        if key in poisoned:
            poisoned[key] = bi(EVIL, EVIL)
    if "items" in poisoned:
        poisoned["items"] = [{**item, "task_title": bi(EVIL, EVIL), "process_name": EVIL}
                             for item in poisoned["items"]]
    return poisoned


@pytest.mark.parametrize("locale", ["sv", "en"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_user_text_is_escaped_in_html_and_kept_in_text(kind: str, locale: str) -> None:
    mail = render(kind, locale, _poisoned(SAMPLES[kind]), base_url=BASE_URL, recipient_id=5)
    assert "<script" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert EVIL in mail.text  # plain text shows what people wrote, unescaped


def test_gate_decision_wording_follows_the_decision() -> None:
    rejected = render("gate_decided", "sv", SAMPLES["gate_decided"], base_url=BASE_URL)
    approved = render("gate_decided", "sv", {**SAMPLES["gate_decided"], "decision": "approved",
                                             "reason": None}, base_url=BASE_URL)
    assert rejected.subject == "Inte godkänt: Riskbedömning"
    assert "Skyddsombudet deltog inte." in rejected.text
    assert approved.subject == "Godkänt: Riskbedömning"
    assert "Motivering" not in approved.text


def test_plural_forms_in_subjects() -> None:
    one = render("escalation", "sv", {**SAMPLES["escalation"], "overdue_days": 1},
                 base_url=BASE_URL)
    assert one.subject == "Försenad i 1 dag: Boka lokal för dialogen"
    assert render("escalation", "en", SAMPLES["escalation"], base_url=BASE_URL).subject == (
        "Overdue by 4 days: Book a room for the dialogue"
    )
    digest = render("digest", "sv", SAMPLES["digest"], base_url=BASE_URL)
    assert digest.subject == "Du har 2 nya uppgifter"


def test_task_link_is_personal_and_names_one_task() -> None:
    mail = render("task_assigned", "sv", TASK, base_url=BASE_URL, recipient_id=5)
    urls = set(re.findall(re.escape(BASE_URL) + r"/t/([\w.\-]+)", mail.html))
    assert len(urls) == 1
    link = read_task_token(urls.pop())
    assert (link.task_id, link.person_id, link.route_version) == (41, 5, 2)


def test_no_task_link_without_a_known_recipient() -> None:
    mail = render("task_assigned", "sv", TASK, base_url=BASE_URL, recipient_id=None)
    assert "/t/" not in mail.html and "/t/" not in mail.text


def test_missing_payload_key_is_a_render_error() -> None:
    broken = {k: v for k, v in TASK.items() if k != "task_title"}
    with pytest.raises(RenderError, match="task_title"):
        render("task_assigned", "sv", broken, base_url=BASE_URL)


def test_unknown_kind_is_a_render_error() -> None:
    with pytest.raises(RenderError):
        render("no_such_kind", "sv", TASK, base_url=BASE_URL)


def test_localise_picks_the_language_and_falls_back_to_swedish() -> None:
    payload = {"a": bi("hej", "hello"), "b": {"sv": "bara svenska"}, "c": [bi("x", "y")], "d": 1}
    assert localise(payload, "en") == {"a": "hello", "b": "bara svenska", "c": ["y"], "d": 1}


def test_one_environment_escapes_html_but_not_text() -> None:
    env = get_environment()
    assert env is get_environment()
    assert env.autoescape("mail/base.html") is True  # type: ignore[operator]
    assert env.autoescape("mail/base.txt") is False  # type: ignore[operator]


@pytest.mark.parametrize("kind", ["task_assigned", "meeting_invite"])
def test_built_message_parses_back_to_what_was_rendered(kind: str) -> None:
    """The pre-encoded MIME build: headers decode to the rendered text, bodies to the rendered
    parts, a long Swedish subject and a non-ASCII name survive, a line starting "From " too."""
    from datetime import UTC, datetime
    from email import message_from_bytes, policy

    from chefoskop.settings import Settings
    from notifications.mime import build_message
    from notifications.render import RenderedMail

    rendered = render(kind, "sv", SAMPLES[kind], base_url=BASE_URL, recipient_id=5)
    long_subject = "Påminnelse: " + " ".join(["åtgärdsområdena på nivåerna"] * 6)
    text = rendered.text + "\nFrom now on, nothing changes.\n" + "Å" * 200 + "\n"
    mail = RenderedMail(subject=long_subject, text=text, html=rendered.html, ics=rendered.ics)
    settings = Settings(mail_from="Chefoskop Västra <noreply@vs.example>")
    message = build_message(mail, recipient_email="anna@vs.example", recipient_name="Åsa Öberg-Ängström",
                         message_id="<row-5@chefoskop.local>", locale="sv", settings=settings,
                         now=datetime(2027, 4, 1, 8, 0, tzinfo=UTC))
    raw = message.as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\n")) and raw.isascii()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == long_subject
    assert parsed["To"].addresses[0].display_name == "Åsa Öberg-Ängström"
    assert parsed["From"].addresses[0].display_name == "Chefoskop Västra"
    assert parsed["Message-ID"] == "<row-5@chefoskop.local>" and parsed["Content-Language"] == "sv"
    parts = {p.get_content_type(): p for p in parsed.walk() if not p.is_multipart()}
    assert parts["text/plain"].get_content().replace("\r\n", "\n") == text
    # (a quoted-printable body ends with a line break; the HTML is otherwise the same)
    assert parts["text/html"].get_content().replace("\r\n", "\n").rstrip("\n") == rendered.html.rstrip("\n")
    if rendered.ics is not None:
        assert parts["text/calendar"].get_param("method") == "REQUEST"
        assert parts["text/calendar"].get_payload(decode=True) == rendered.ics
    # The same row builds the same bytes (a resend is recognisably the same message).
    again = build_message(mail, recipient_email="anna@vs.example", recipient_name="Åsa Öberg-Ängström",
                       message_id="<row-5@chefoskop.local>", locale="sv", settings=settings,
                       now=datetime(2027, 4, 1, 8, 0, tzinfo=UTC))
    assert again.as_bytes() == raw


def test_an_address_that_needs_smtputf8_takes_the_email_message_build() -> None:
    """A non-ASCII address cannot be written by the pre-encoded build; the fallback carries it
    as UTF-8 (SMTPUTF8), with the same parts and Message-ID."""
    from datetime import UTC, datetime
    from email import message_from_string, policy

    from chefoskop.settings import Settings
    from notifications.mime import build_message

    rendered = render("meeting_invite", "sv", SAMPLES["meeting_invite"], base_url=BASE_URL,
                      recipient_id=5)
    message = build_message(rendered, recipient_email="åsa@söderbotten.example",
                            recipient_name="Åsa Öberg", message_id="<row-6@chefoskop.local>",
                            locale="sv", settings=Settings(mail_from="noreply@vs.example"),
                            now=datetime(2027, 4, 1, 8, 0, tzinfo=UTC))
    raw = message.as_bytes(policy=policy.SMTPUTF8).decode("utf-8")  # UTF-8 headers, as sent
    parsed = message_from_string(raw, policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == "åsa@söderbotten.example"
    assert parsed["Message-ID"] == "<row-6@chefoskop.local>"
    parts = {p.get_content_type(): p for p in parsed.walk() if not p.is_multipart()}
    assert parts["text/plain"].get_content().replace("\r\n", "\n").strip() == rendered.text.strip()
    assert parts["text/calendar"].get_payload(decode=True) == rendered.ics
