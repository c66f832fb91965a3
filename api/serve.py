"""Running the web app on the embedded defaults: the mail sink, and a loop that opens
queued steps and delivers the outbox every few seconds beside uvicorn.

Logs never carry a personal survey link: ``SurveyLinkFilter`` replaces the token of
``/s/<token>`` in uvicorn's access and error lines and in the app's own request
logs. A token is the respondent's key to their answers, and a log line puts a time
on it (which, beside a response's order, could say who answered when). Behind a
reverse proxy, configure the proxy not to log ``/s/`` paths either.

Links in mails point to ``CHEFOSKOP_BASE_URL`` when it is set; otherwise to where this
server listens (``link_base_url``), so ``chefoskop serve --port N`` sends working links.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import threading
from typing import Any

from chefoskop.settings import Settings, get_settings

log = logging.getLogger(__name__)
EVERY_SECONDS = 5.0
# /s/<token> (also URL-encoded, e.g. in a ?next= parameter); the token's characters as the route allows.
SURVEY_LINK = re.compile(r"((?:/|%2F)s(?:/|%2F))[A-Za-z0-9_.\-]+", re.IGNORECASE)
REDACTED = r"\1[link]"
# App loggers that name request paths (they log on their own logger, so a filter there sees them).
PATH_LOGGERS = ("api.problems",)


def redact_survey_links(text: str) -> str:
    """``text`` with the token of every personal survey link replaced by ``[link]``."""
    return SURVEY_LINK.sub(REDACTED, text)


class SurveyLinkFilter(logging.Filter):
    """Redact survey-link tokens from a log record's message and arguments (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; always keep it."""
        if isinstance(record.msg, str):
            record.msg = redact_survey_links(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_survey_links(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_survey_links(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with ``SurveyLinkFilter`` on its access and error output."""
    import uvicorn.config

    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["survey_links"] = {"()": SurveyLinkFilter}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("survey_links")
    return config


def install_log_filters() -> None:
    """Put ``SurveyLinkFilter`` on the app loggers that log request paths."""
    for name in PATH_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SurveyLinkFilter) for f in logger.filters):
            logger.addFilter(SurveyLinkFilter())


def _tick(settings: Settings) -> None:
    from chefoskop.db import get_sessionmaker
    from flows.dispatch import run_pending_steps
    from notifications.sender import deliver_all_sync

    for name, work in (("queued steps", lambda: run_pending_steps(wait=True)),
                       ("outbox", lambda: deliver_all_sync(get_sessionmaker(), settings))):
        try:
            work()
        except Exception:  # keep serving; the next tick tries again
            log.exception("background work on %s failed", name)


def background_loop(stop: threading.Event, settings: Settings, every: float = EVERY_SECONDS) -> None:
    """Open queued steps and deliver due mail until ``stop`` is set."""
    while not stop.wait(every):
        _tick(settings)


# Listening on every address names no address a link can use: links go to this machine.
WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def link_base_url(settings: Settings, host: str, port: int) -> str:
    """The address links in mails point to: ``CHEFOSKOP_BASE_URL`` (or the settings' base_url)
    when it is set, else ``http://{host}:{port}`` where this server listens."""
    if "base_url" in settings.model_fields_set:
        return settings.base_url
    name = WILDCARD_HOSTS.get(host, host)
    if ":" in name and not name.startswith("["):  # an IPv6 address
        name = f"[{name}]"
    return f"http://{name}:{port}"


def _use_link_base_url(host: str, port: int) -> Settings:
    """The settings with the base URL ``link_base_url`` chose, for the app, the mail sender and
    everything else that reads ``get_settings()`` (set as ``CHEFOSKOP_BASE_URL`` when it was not)."""
    settings = get_settings()
    if "base_url" not in settings.model_fields_set:
        os.environ["CHEFOSKOP_BASE_URL"] = link_base_url(settings, host, port)
        get_settings.cache_clear()
        settings = get_settings()
        if host in WILDCARD_HOSTS:
            log.warning("listening on every address: set CHEFOSKOP_BASE_URL to the address people "
                        "use, or the links in mails point to %s", settings.base_url)
    log.info("links in mails point to %s", settings.base_url)
    return settings


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Start the mail sink (unless a relay is set), the background loop and uvicorn."""
    import uvicorn

    from api.app import create_app
    from notifications.sink import ensure_sink

    settings = _use_link_base_url(host, port)
    sink_host, sink_port = ensure_sink(settings)
    log.info("mail goes to %s:%s", sink_host, sink_port)
    stop = threading.Event()
    threading.Thread(target=background_loop, args=(stop, settings), name="chefoskop-background",
                     daemon=True).start()
    install_log_filters()
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                    log_config=uvicorn_log_config())
    finally:
        stop.set()
