"""Running the web app on the embedded defaults: the mail sink, and a loop that opens
queued steps and delivers the outbox every few seconds beside uvicorn."""

from __future__ import annotations

import logging
import threading

from chefoskop.settings import Settings, get_settings

log = logging.getLogger(__name__)
EVERY_SECONDS = 5.0


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


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Start the mail sink (unless a relay is set), the background loop and uvicorn."""
    import uvicorn

    from api.app import create_app
    from notifications.sink import ensure_sink

    settings = get_settings()
    sink_host, sink_port = ensure_sink(settings)
    log.info("mail goes to %s:%s", sink_host, sink_port)
    stop = threading.Event()
    threading.Thread(target=background_loop, args=(stop, settings), name="chefoskop-background",
                     daemon=True).start()
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    finally:
        stop.set()
