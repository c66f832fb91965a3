"""The local mail sink keeps each Message-ID once, as a real mailbox does, also across sinks."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from notifications.sink import MailSink, list_messages


def _mail(message_id: str | None, subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "chefoskop@example.se", "chef@example.se", subject
    if message_id:
        mail["Message-ID"] = message_id
    mail.set_content("Hej")
    return mail


def _send(port: int, mail: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(mail)  # raises unless the sink answered 250


def test_a_resent_message_id_is_accepted_and_kept_once(tmp_path):
    maildir = tmp_path / "mail"
    with MailSink(maildir) as sink:
        _send(sink.port, _mail("<outbox-1@chefoskop>", "first"))
        _send(sink.port, _mail("<outbox-1@chefoskop>", "first, resent"))
        _send(sink.port, _mail("<outbox-2@chefoskop>", "second"))
    with MailSink(maildir) as restarted:  # a new sink (another process) on the same Maildir
        _send(restarted.port, _mail("<outbox-2@chefoskop>", "second, resent"))
        _send(restarted.port, _mail(None, "no id"))
        _send(restarted.port, _mail(None, "no id"))
    kept = sorted((m.message_id, m.subject) for m in list_messages(maildir))
    assert kept == [("", "no id"), ("", "no id"), ("<outbox-1@chefoskop>", "first"),
                    ("<outbox-2@chefoskop>", "second")]
