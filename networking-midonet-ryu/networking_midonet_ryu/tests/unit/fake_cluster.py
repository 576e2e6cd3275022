"""A local HTTP server standing in for the cluster in tests.

It answers 200 to everything (204 to deletes), records every request, and
serves what the driver reads: a login key, a list of hosts and port status
answers the test queues.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE = '/midonet-api'


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


class FakeCluster:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.hosts: list[dict[str, Any]] = [{'name': 'host-a', 'alive': True}]
        self.status_answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._status_cursor = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name='fake-cluster', daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f'http://{host}:{port}{BASE}'

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def journal_requests(self) -> list[Request]:
        """The PUTs and DELETEs of /neutron/{collection}/{id}, in arrival order."""
        with self._lock:
            return [r for r in self.requests
                    if r.method in ('PUT', 'DELETE') and r.path.startswith('/neutron/')
                    and r.path.count('/') == 3]

    def bodies(self, collection: str, resource_id: str) -> list[Any]:
        path = f'/neutron/{collection}/{resource_id}'
        return [r.body for r in self.journal_requests() if r.path == path and r.method == 'PUT']

    def _answer(self, request: Request) -> tuple[int, Any]:
        if request.path == '/login':
            return 200, {'key': 'test-token', 'expires': '2099-01-01T00:00:00Z'}
        if request.path == '/hosts':
            return 200, self.hosts
        if request.path == '/neutron/port_status':
            try:
                return 200, self.status_answers.get_nowait()
            except queue.Empty:
                self._status_cursor += 1
                return 200, {'cursor': str(self._status_cursor), 'reset': False,
                             'active': [], 'inactive': []}
        if request.path == '/neutron/sync':
            return 200, {'created': [], 'updated': [], 'deleted': [], 'failed': []}
        if request.method == 'DELETE':
            return 204, None
        return 200, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length) if length else b''
                body = json.loads(raw) if raw else None
                path = parts.path[len(BASE):] if parts.path.startswith(BASE) else parts.path
                request = Request(self.command, path, parse_qs(parts.query), body)
                with cluster._lock:
                    cluster.requests.append(request)
                    status, answer = cluster._answer(request)
                payload = b'' if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        return Handler
