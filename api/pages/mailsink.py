"""The development mail sink: read the mails the local sink caught (never in production).

No sign-in is needed here, because the mails carry the links people sign in
with; the page therefore exists only outside production.
"""

from __future__ import annotations

import mailbox
import re

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.deps import SettingsDep
from api.pages.render import PageRoute, render_page
from api.problems import not_found
from chefoskop.settings import Settings
from notifications.sink import list_messages, maildir_path, read_message, text_part

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LINK = re.compile(r"https?://[^\s<>\"')]+")
KEY = r"^[A-Za-z0-9._,:=-]{1,200}$"


def _require_dev(settings: Settings) -> None:
    if settings.environment == "production":
        raise not_found()


@router.get("/dev/mail")
def mail_list(request: Request, settings: SettingsDep) -> Response:
    """Every caught mail, newest first."""
    _require_dev(settings)
    mails = list(reversed(list_messages(maildir_path(settings))))
    return render_page(request, "mail_list.html", mails=mails)


@router.get("/dev/mail/{key}")
def mail_read(request: Request, settings: SettingsDep,
              key: str = Path(max_length=200, pattern=KEY)) -> Response:
    """One caught mail: its headers, its text and the links in it."""
    _require_dev(settings)
    try:
        message = read_message(maildir_path(settings), key)
    except (KeyError, OSError, mailbox.Error):
        raise not_found() from None
    text = text_part(message)
    headers = [(name, str(message.get(name, ""))) for name in ("From", "To", "Subject", "Date")]
    return render_page(request, "mail_read.html", headers=headers, text=text,
                       links=list(dict.fromkeys(LINK.findall(text))), subject=str(message.get("Subject", "")))
