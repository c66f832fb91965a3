"""The embedded mail sink: a local SMTP server that keeps every message in a Maildir.

With no SMTP relay configured, mails go here instead of out into the world. The
Maildir at ``<data_dir>/mail`` can be read by any other process (``chefoskop mail
list``), also after the sink has stopped.

Like a real mailbox, the sink keeps each Message-ID once: a sender that was killed
after the server accepted a message but before it recorded that resends it with the
same Message-ID, and the copy is accepted and dropped. Such a message is stored
under a name derived from its Message-ID and linked into ``new/`` atomically, so two
sinks on one Maildir cannot both store it either.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import mailbox
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import Parser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from chefoskop.settings import Settings

log = logging.getLogger(__name__)

SINK_HOST = "127.0.0.1"


def maildir_path(settings: Settings) -> Path:
    """Where the sink of these settings keeps its mail."""
    return Path(settings.data_dir) / "mail"


def free_port(host: str = SINK_HOST) -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def message_key(message_id: str) -> str:
    """The Maildir name under which the sink keeps the message with ``message_id``."""
    return "mid-" + hashlib.sha256(message_id.strip().encode()).hexdigest()[:40]


class MaildirHandler:
    """aiosmtpd handler that stores each accepted message, unchanged, in a Maildir, once per Message-ID."""

    def __init__(self, path: Path) -> None:
        for folder in ("tmp", "new", "cur"):
            (path / folder).mkdir(parents=True, exist_ok=True)
        self.path = path
        self.maildir = mailbox.Maildir(str(path), create=False)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Store the message; the envelope recipients go into an X-Sink-Rcpt-To header."""
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        header = f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        message_id = str(parse_message(content, headers_only=True).get("Message-ID", "")).strip()
        with self._lock:
            if not message_id:
                self.maildir.add(header + content)
            elif not self.store_once(message_key(message_id), header + content):
                log.info("mail sink: %s is here already; the copy is dropped", message_id)
        return "250 Message accepted for delivery"

    def store_once(self, key: str, data: bytes) -> bool:
        """Store ``data`` as message ``key`` unless the Maildir has it; True when stored."""
        cur = self.path / "cur"
        if (self.path / "new" / key).exists() or (cur / key).exists() or any(cur.glob(f"{key}:*")):
            return False
        partial = self.path / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex}"
        partial.write_bytes(data)
        try:
            os.link(partial, self.path / "new" / key)  # atomic, and refused when it exists
        except FileExistsError:
            return False
        finally:
            partial.unlink()
        return True


class MailSink:
    """A local SMTP server on 127.0.0.1 in a background thread, storing into a Maildir."""

    def __init__(self, path: Path | str, *, port: int = 0, host: str = SINK_HOST) -> None:
        self.path = Path(path)
        self.host = host
        self._requested_port = port
        self._controller: Controller | None = None

    @property
    def port(self) -> int:
        """The port the sink listens on (only while running)."""
        if self._controller is None:
            raise RuntimeError("the mail sink is not running")
        return int(self._controller.port)

    def start(self) -> MailSink:
        """Start listening (port 0 picks a free port) and record the port beside the Maildir."""
        port = self._requested_port or free_port(self.host)
        controller = Controller(
            MaildirHandler(self.path), hostname=self.host, port=port, ready_timeout=10,
            enable_SMTPUTF8=True,  # addresses with Swedish letters (RFC 6531)
        )
        controller.start()
        self._controller = controller
        if self.host == SINK_HOST:
            _marker(self.path).write_text(f"{os.getpid()} {port}\n")
        log.info("mail sink listening on %s:%s, storing into %s", self.host, port, self.path)
        return self

    def stop(self) -> None:
        """Stop listening (stored mail stays in the Maildir)."""
        if self._controller is not None:
            port = self.port
            self._controller.stop()
            self._controller = None
            if _recorded(self.path) == (os.getpid(), port):
                _marker(self.path).unlink(missing_ok=True)

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_running: MailSink | None = None
_running_lock = threading.Lock()


def ensure_sink(settings: Settings) -> tuple[str, int]:
    """Host and port to send to: the configured relay, or a sink started on first use.

    A sink that another process (the web app, say) runs for the same data folder is
    reused; it is found through the port it recorded beside the Maildir. A sink of
    another data folder is never reused, even on the configured port: its mail would
    land in that folder. Then this process starts its own sink on a free port.
    """
    global _running
    if settings.smtp_host:
        return settings.smtp_host, settings.smtp_port
    with _running_lock:
        if _running is None:
            maildir = maildir_path(settings)
            port = _live_sink_port(maildir)
            if port is not None:
                log.info("using the mail sink already on %s:%s for %s", SINK_HOST, port, maildir)
                return SINK_HOST, port
            wanted = settings.sink_port
            if wanted and _listening(SINK_HOST, wanted):
                log.warning("port %s is taken by another program (or the sink of another data "
                            "folder); the mail sink for %s listens on a free port instead",
                            wanted, maildir)
                wanted = 0
            sink = MailSink(maildir, port=wanted)
            sink.start()
            atexit.register(sink.stop)
            _running = sink
        return _running.host, _running.port


def _marker(maildir: Path) -> Path:
    """Where a running sink records its process id and port: beside its Maildir."""
    return Path(f"{maildir}.sink")


def _recorded(maildir: Path) -> tuple[int, int] | None:
    try:
        pid, port = (int(word) for word in _marker(maildir).read_text().split())
    except (OSError, ValueError):
        return None
    return pid, port


def _live_sink_port(maildir: Path) -> int | None:
    """The port of a sink that stores into ``maildir`` and is still running, if any."""
    recorded = _recorded(maildir)
    if recorded is None:
        return None
    pid, port = recorded
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # alive, under another user
    except OSError:
        return None  # that process has ended (killed, so it left its record behind)
    return port if _listening(SINK_HOST, port) else None


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class StoredMail:
    """Headers of one message in the sink's Maildir."""

    id: str
    message_id: str
    to: str
    subject: str
    date: datetime | None


def _open(maildir: Path | str) -> mailbox.Maildir:
    return mailbox.Maildir(str(maildir), create=False)


def _date(value: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def parse_message(raw: bytes, *, headers_only: bool = False) -> EmailMessage:
    """A message as received; UTF-8 headers (SMTPUTF8) decode to text, not to escapes.

    The bytes parser reads headers as ASCII, so an address with Swedish letters would
    come back as surrogate escapes; decoding the bytes first keeps it readable.
    """
    text = raw.decode("utf-8", "surrogateescape")
    return Parser(policy=policy.default).parsestr(text, headersonly=headers_only)  # type: ignore[return-value]


def list_messages(maildir: Path | str) -> list[StoredMail]:
    """Every stored message, oldest first; an absent Maildir has none."""
    if not Path(maildir, "cur").is_dir():
        return []
    box = _open(maildir)
    found = []
    for key in box.iterkeys():
        headers = parse_message(box.get_bytes(key), headers_only=True)
        found.append(
            StoredMail(
                id=key,
                message_id=str(headers.get("Message-ID", "")),
                to=str(headers.get("To", "")),
                subject=str(headers.get("Subject", "")),
                date=_date(headers.get("Date")),
            )
        )
    return sorted(found, key=lambda m: (m.date is None, m.date.timestamp() if m.date else 0, m.id))


HEADER_READ_MAX = 256 * 1024  # a header block is never read past this


def _stored_files(maildir: Path | str) -> list[tuple[int, str, str]]:
    """(time stored in ns, key, path) of every message file in ``new/`` and ``cur/``: one
    directory scan and one stat per file, no file opened."""
    found = []
    for folder in ("new", "cur"):
        try:
            with os.scandir(Path(maildir, folder)) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    try:
                        stored = entry.stat().st_mtime_ns
                    except FileNotFoundError:  # moved or removed meanwhile
                        continue
                    found.append((stored, entry.name.split(":", 1)[0], entry.path))
        except FileNotFoundError:
            continue
    return found


def _read_headers(path: str) -> EmailMessage:
    """The header block of one message file, without reading its body."""
    head = b""
    with open(path, "rb") as f:
        while len(head) < HEADER_READ_MAX:
            chunk = f.read(8192)
            head += chunk
            if not chunk or b"\n\n" in head or b"\r\n\r\n" in head:
                break
    return parse_message(head, headers_only=True)


def list_page(maildir: Path | str, *, offset: int = 0, limit: int = 50) -> tuple[int, list[StoredMail]]:
    """How many messages are stored, and ``limit`` of them from ``offset``, newest first.

    For a page of a big Maildir: the messages are ordered by when their file was stored
    (newest first, then by key), and only the page's own files are opened, for their
    headers. ``list_messages`` reads every message and orders by the Date header.
    """
    files = sorted(_stored_files(maildir), key=lambda f: (f[0], f[1]), reverse=True)
    page = []
    for _stored, key, path in files[max(offset, 0):max(offset, 0) + max(limit, 0)]:
        try:
            headers = _read_headers(path)
        except FileNotFoundError:  # moved from new/ to cur/ by a reader meanwhile
            continue
        page.append(StoredMail(id=key, message_id=str(headers.get("Message-ID", "")),
                               to=str(headers.get("To", "")), subject=str(headers.get("Subject", "")),
                               date=_date(headers.get("Date"))))
    return len(files), page


def read_message(maildir: Path | str, message_key: str) -> EmailMessage:
    """One stored message, parsed; raises KeyError when there is no such id."""
    raw = _open(maildir).get_bytes(message_key)
    return parse_message(raw)


def text_part(message: EmailMessage) -> str:
    """The plain-text body of a message ('' when it has none)."""
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""
