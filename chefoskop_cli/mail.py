"""`chefoskop mail ...`: read the local mail sink and run or repair outbox delivery."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from chefoskop.i18n import gettext, ngettext
from chefoskop.settings import get_settings


def _(msgid: str, **params: Any) -> str:
    """Translate CLI text into the configured default language."""
    return gettext(get_settings().default_locale, msgid, **params)


mail_app = typer.Typer(help=_("Read the local mailbox and deliver queued e-mail."),
                       no_args_is_help=True)

MaildirOption = Annotated[
    Path | None, typer.Option("--maildir", help=_("Mailbox folder (default: <data_dir>/mail)."))
]


def _maildir(maildir: Path | None) -> Path:
    from notifications.sink import maildir_path

    return maildir or maildir_path(get_settings())


def _when(mail: Any) -> str:
    return mail.date.astimezone().strftime("%Y-%m-%d %H:%M") if mail.date else "-"


@mail_app.command("list", help=_("List the e-mails in the local mailbox, oldest first."))
def list_mail(maildir: MaildirOption = None) -> None:
    """List the e-mails in the local mailbox, oldest first."""
    from notifications.sink import list_messages

    mails = list_messages(_maildir(maildir))
    if not mails:
        typer.echo(_("The mailbox is empty."))
        return
    width = max(len(m.to) for m in mails)
    width = max(width, len(_("To")))
    date, to, subject = _("Date"), _("To"), _("Subject")
    typer.echo(f"{'#':>4}  {date:<16}  {to:<{width}}  {subject}")
    for number, mail in enumerate(mails, start=1):
        typer.echo(f"{number:>4}  {_when(mail):<16}  {mail.to:<{width}}  {mail.subject}")


@mail_app.command("show", help=_("Show one e-mail from the local mailbox as plain text."))
def show_mail(
    mail_id: Annotated[str, typer.Argument(help=_("Number from the list, or the stored id."))],
    maildir: MaildirOption = None,
) -> None:
    """Show one e-mail from the local mailbox as plain text."""
    from notifications.sink import list_messages, read_message, text_part

    folder = _maildir(maildir)
    key = mail_id
    if mail_id.isdigit():
        mails = list_messages(folder)
        if 1 <= int(mail_id) <= len(mails):
            key = mails[int(mail_id) - 1].id
    try:
        message = read_message(folder, key)
    except (KeyError, FileNotFoundError):
        typer.echo(_("No e-mail with id %(id)s.", id=mail_id), err=True)
        raise typer.Exit(1) from None
    for header in ("Date", "From", "To", "Subject", "Message-ID"):
        typer.echo(f"{header}: {message.get(header, '')}")
    typer.echo("")
    typer.echo(text_part(message))


@mail_app.command("send", help=_("Deliver every queued e-mail that is due now."))
def send_mail() -> None:
    """Deliver every queued e-mail that is due now."""
    from chefoskop.db import get_sessionmaker
    from notifications.sender import deliver_all

    report = asyncio.run(deliver_all(get_sessionmaker(), get_settings()))
    typer.echo(
        _("Sent: %(sent)s, refused: %(failed)s, to retry: %(retried)s, given up: %(dead)s.",
          sent=report.sent, failed=report.failed, retried=report.retried, dead=report.dead)
    )


@mail_app.command(
    "retry-dead", help=_("Queue given-up and refused e-mails again with a fresh set of attempts.")
)
def retry_dead_mail(
    ids: Annotated[
        list[int] | None, typer.Argument(help=_("Outbox ids (default: every one given up on)."))
    ] = None,
) -> None:
    """Queue given-up and refused e-mails again with a fresh set of attempts."""
    from chefoskop.db import unit_of_work
    from notifications.sender import retry_dead

    with unit_of_work() as session:
        count = retry_dead(session, ids or None)
    locale = get_settings().default_locale
    typer.echo(ngettext(locale, "%(num)s e-mail queued again.", "%(num)s e-mails queued again.",
                        count))
