"""The development mail sink: read the mails the local sink caught (development only).

The page exists only when ``environment`` is ``development`` (404 in ``test`` and
``production``). No sign-in is needed, because the mails carry the links the demo's
people sign in with (the README walks a process that way); what keeps it private is that
a development server listens on the developer's own machine. The list is paged, newest
first, and reads only the headers of the mails on the page.
"""

from __future__ import annotations

import mailbox
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from api.deps import SettingsDep
from api.pages.render import PageRoute, render_page
from api.problems import not_found
from chefoskop.settings import Settings
from notifications.sink import list_page, maildir_path, read_message, text_part

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LINK = re.compile(r"https?://[^\s<>\"')]+")
KEY = r"^[A-Za-z0-9._,:=-]{1,200}$"
PAGE_SIZE = 50


def _require_dev(settings: Settings) -> None:
    if settings.environment != "development":
        raise not_found()


@router.get("/dev/mail")
def mail_list(request: Request, settings: SettingsDep,
              page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    """The caught mails, newest first, ``PAGE_SIZE`` to a page."""
    _require_dev(settings)
    total, mails = list_page(maildir_path(settings), offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_page(request, "mail_list.html", mails=mails, total=total, page=page,
                       pages=max(1, -(-total // PAGE_SIZE)))


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
