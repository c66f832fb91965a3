"""A small TCP proxy on 127.0.0.1 that can cut its connections and refuse new ones.

It stands between the application and PostgreSQL in the outage tests, so an outage
hits only the connections made through it: other tests sharing the server are
untouched. The proxy runs its own asyncio loop in a daemon thread; every method
is called from the test's thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from concurrent.futures import Future


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target``; ``outage()`` resets and refuses, ``recover()`` ends it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.accepted = 0
        self.cut_total = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    # -- the test's side -------------------------------------------------------------------

    def start(self) -> TcpProxy:
        """Start the loop and listen."""
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        """Cut everything, stop listening and stop the loop."""
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def outage(self) -> int:
        """Reset every live connection and refuse new ones (a server restart); how many were cut."""
        return self._call(self._outage())

    def cut(self) -> int:
        """Reset every live connection but keep accepting new ones; how many were cut."""
        return self._call(self._cut())

    def recover(self) -> None:
        """Accept connections again on the same port."""
        self._call(self._listen())

    @property
    def live(self) -> int:
        """Connections open through the proxy now."""
        return len(self._pairs)

    def _call(self, coro):
        future: Future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=10)

    # -- the loop's side -------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                      reuse_address=True)

    async def _outage(self) -> int:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()  # the port refuses from now on
        return await self._cut()

    async def _shutdown(self) -> None:
        await self._outage()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if tasks:  # the cut ends every pipe; let them finish rather than cancel them
            _, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()

    async def _cut(self) -> int:
        pairs, self._pairs = set(self._pairs), set()
        for client, upstream in pairs:
            for writer in (client, upstream):
                writer.transport.abort()  # an RST, as a dying server's kernel would send
        self.cut_total += len(pairs)
        await asyncio.sleep(0)
        return len(pairs)

    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        pair = (client_writer, upstream_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(_pipe(client_reader, upstream_writer),
                                 _pipe(upstream_reader, client_writer))
        finally:
            self._pairs.discard(pair)
            for writer in pair:
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        writer.transport.abort()
    else:
        writer.close()  # pass the end of the stream on


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
