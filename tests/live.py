"""uvicorn serving the app on 127.0.0.1 in a background thread, for tests that need a real server."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn
from fastapi import FastAPI


class LiveServer:
    """uvicorn serving ``app`` in a background thread on ``port``."""

    def __init__(self, app: FastAPI, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        """Start and wait until the health route answers."""
        self.thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the app did not start")

    def stop(self) -> None:
        """Ask uvicorn to stop and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
