"""The agent's local inspection endpoint: one JSON request per line on a unix
socket, one JSON answer per line. ``midonet-agent-ctl`` is its client.

Read-only by design: operators look at what the agent believes (ports,
tunnel keys, installed flows and why they exist, counters), they do not
steer it through here.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger(__name__)
MAX_REQUEST = 4096

Handler = Callable[[dict], Any]


def serve(path: str, handler: Handler, spawn: Callable) -> socket.socket:
    """Listen on ``path`` and answer each connection in its own green thread."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o600)
    server.listen(16)

    def accept_loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            spawn(_answer, conn, handler)

    spawn(accept_loop)
    return server


def _answer(conn: socket.socket, handler: Handler) -> None:
    with conn:
        data = b""
        while b"\n" not in data and len(data) <= MAX_REQUEST:
            chunk = conn.recv(1024)
            if not chunk:
                break
            data += chunk
        try:
            if len(data) > MAX_REQUEST:
                raise ValueError("request too long")
            request = json.loads(data.split(b"\n", 1)[0] or b"{}")
            if not isinstance(request, dict):
                raise ValueError("request must be a JSON object")
            reply = {"ok": True, "result": handler(request)}
        except Exception as e:  # noqa: BLE001 - every bad request gets an answer
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        conn.sendall(json.dumps(reply, default=str).encode() + b"\n")


def request(path: str, command: str, timeout: float = 5.0, **args: Any) -> Any:
    """Ask the agent listening on ``path``; raises RuntimeError on an error reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps({"cmd": command, **args}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    if not reply.get("ok"):
        raise RuntimeError(reply.get("error", "agent error"))
    return reply["result"]
