"""A counting SMTP sink in its own process: ``python -m bench.smtp_sink PORT``.

It accepts every message and keeps nothing, so the benchmark measures the
senders, not a disk. Runs until it is terminated.
"""

from __future__ import annotations

import sys
import time

from aiosmtpd.controller import Controller


class CountingHandler:
    """Accepts and counts messages."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        """Count the message and accept it."""
        self.count += 1
        return "250 OK"


def main(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until terminated."""
    controller = Controller(CountingHandler(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]))
