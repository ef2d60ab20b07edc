"""A local HTTP server for tests that answers registered routes and records every request it receives.

    with RecordingServer() as server:
        server.add("GET", "/orders/v0/orders", Reply(200, {"payload": {...}}))
        server.add("POST", "/v2/inventory", Reply(429, {}, {"Retry-After": "2"}), Reply(200, {}))
        ... call server.url ...
        assert server.requests[0].query["MarketplaceIds"] == ["ATVPDKIKX0DER"]

A route matches on method and path prefix (the longest matching prefix wins) and, optionally, on query
parameters. Its replies are given in order, the last one repeating. An unmatched request gets a 404.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    """One canned response: a dict or list is sent as JSON, str or bytes as they are."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode("utf-8"), headers
        if self.body is None:
            return b"", headers
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode("utf-8"), headers


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Route:
    method: str
    prefix: str
    query: dict[str, str]
    replies: list[Reply]
    served: int = 0


class RecordingServer:
    """ThreadingHTTPServer on 127.0.0.1 (a free port) in a daemon thread; a context manager."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(
        self, method: str, prefix: str, *replies: Reply | tuple, query: Mapping[str, str] | None = None
    ) -> None:
        """Answer `method prefix...` with these replies in turn (the last repeats); tuples are Reply args."""
        if not replies:
            raise ValueError("a route needs at least one reply")
        canned = [r if isinstance(r, Reply) else Reply(*r) for r in replies]
        with self._lock:
            self._routes.append(_Route(method.upper(), prefix, dict(query or {}), canned))

    def requests_to(self, method: str, prefix: str = "/") -> list[Recorded]:
        """The recorded requests with this method whose path starts with prefix."""
        with self._lock:
            return [r for r in self.requests if r.method == method.upper() and r.path.startswith(prefix)]

    def start(self) -> RecordingServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            candidates = [
                route
                for route in self._routes
                if route.method == recorded.method
                and recorded.path.startswith(route.prefix)
                and all(recorded.param(k) == v for k, v in route.query.items())
            ]
            if not candidates:
                return Reply(404, {"error": f"no route for {recorded.method} {recorded.path}"})
            route = max(candidates, key=lambda r: (len(r.prefix), len(r.query)))
            reply = route.replies[min(route.served, len(route.replies) - 1)]
            route.served += 1
            return reply


def _handler_for(owner: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            reply = owner._answer(recorded)
            payload, headers = reply.encoded()
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
