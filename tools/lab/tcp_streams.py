"""TCP traffic between kernel VMs of a netns lab that tells a broken
connection from a slow one: an echo server, long-lived streams of records
whose every echo is timed, and a steady series of new connections.

Each runs as ``python3 -c`` in its VM's namespace and reports JSON lines on
stdout with wall-clock times, so a test or benchmark can line them up with
the faults it injected.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

from tools.lab.netns import NetnsVm

PY = sys.executable

# Echoes every TCP connection's bytes; prints each connection's peer once.
ECHO_SERVER = r"""
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64)
print("listening", flush=True)
def echo(c, peer):
    print(f"{peer[0]}:{peer[1]}", flush=True)
    try:
        while (data := c.recv(4096)):
            c.sendall(data)
    except OSError:
        pass
    c.close()
while True:
    c, peer = s.accept()
    threading.Thread(target=echo, args=(c, peer), daemon=True).start()
"""

# One TCP connection, 100 records a second, each echoed, until told to stop
# (a line on stdin). Once a second, and at the end, a JSON line: records
# sent and echoed, the longest wait for an echo so far, the time since the
# last one, any error.
STREAM = r"""
import json, select, socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.settimeout(0.01)
print("connected", flush=True)
sent = got = 0; last = time.monotonic(); gap = 0.0; error = None; buf = b""
told = time.monotonic()
def report(final):
    now = time.monotonic()
    print(json.dumps({"t": time.time(), "sent": sent, "echoed": got,
                      "max_gap": max(gap, now - last) if final else gap,
                      "since_echo": now - last, "error": error, "final": final}), flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    try:
        c.sendall(b"%08d" % sent); sent += 1
        try:
            data = c.recv(4096)
            if not data:
                error = "closed by the peer"; break
            buf += data
        except socket.timeout:
            pass
        while len(buf) >= 8:
            buf = buf[8:]; got += 1; now = time.monotonic()
            gap = max(gap, now - last); last = now
    except OSError as e:
        error = repr(e); break
    if time.monotonic() - told >= 1.0:
        told = time.monotonic(); report(False)
    time.sleep(0.01)
report(True)
"""

# A new TCP connection every INTERVAL seconds, each sending a record and
# waiting up to TIMEOUT for its echo; a JSON line per attempt: when it
# started, how long it took, whether it worked, why not.
NEW_CONNECTIONS = r"""
import json, select, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
interval, timeout = float(sys.argv[3]), float(sys.argv[4])
n = 0
print("started", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    t0 = time.time(); err = None
    try:
        with socket.create_connection((host, port), timeout=timeout) as c:
            want = b"%08d" % n; c.sendall(want); data = b""
            while len(data) < 8:
                more = c.recv(8 - len(data))
                if not more:
                    raise OSError("closed")
                data += more
            if data != want:
                err = "wrong echo"
    except OSError as e:
        err = type(e).__name__
    print(json.dumps({"t": t0, "s": time.time() - t0, "ok": err is None, "err": err}),
          flush=True)
    n += 1
    time.sleep(max(0.0, interval - (time.time() - t0)))
"""


def echo_server(vm: NetnsVm, port: int) -> subprocess.Popen:
    """The echo server in ``vm`` (its stdout: one line per connection's peer)."""
    proc = vm.popen(PY, "-c", ECHO_SERVER, str(port), stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "listening"
    return proc


class _Reporter:
    """A ``python3 -c`` program in a VM whose JSON lines a thread collects."""

    def __init__(self, vm: NetnsVm, script: str, ready: str, *args: object) -> None:
        self.proc = vm.popen(PY, "-c", script, *map(str, args), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != ready:
            self.proc.kill()
            raise RuntimeError(f"{script.splitlines()[1][:60]}...: {line!r} "
                               f"{self.proc.stderr.read() if self.proc.stderr else ''}")
        self.reports: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.reports.append(json.loads(line))
            except ValueError:
                continue

    def _end(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.wait(15)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)


class Stream(_Reporter):
    """A long-lived TCP connection from ``vm`` to an echo server."""

    def __init__(self, vm: NetnsVm, host: str, port: int) -> None:
        super().__init__(vm, STREAM, "connected", host, port)

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.reports[-1] if self.reports else None

    def flowing(self, since_echo: float = 0.5) -> bool:
        """Echoes arrive (the last report is recent and had one lately)."""
        last = self.latest
        return bool(last and last["error"] is None and time.time() - last["t"] < 2.0
                    and last["since_echo"] < since_echo)

    def stop(self) -> dict[str, Any]:
        """The final report (``sent``, ``echoed``, ``max_gap``, ``error``)."""
        self._end()
        final = [r for r in self.reports if r.get("final")]
        if not final:
            return {"sent": 0, "echoed": 0, "max_gap": float("inf"), "since_echo": float("inf"),
                    "error": "the stream reported nothing at the end"}
        return final[-1]


class NewConnections(_Reporter):
    """A new connection from ``vm`` to an echo server every ``interval`` s."""

    def __init__(self, vm: NetnsVm, host: str, port: int, interval: float = 0.5,
                 timeout: float = 2.0) -> None:
        super().__init__(vm, NEW_CONNECTIONS, "started", host, port, interval, timeout)

    def attempts(self, start: float, end: float) -> list[dict[str, Any]]:
        """The attempts that started within [start, end) (wall clock)."""
        return [a for a in list(self.reports) if start <= a["t"] < end]

    def stop(self) -> None:
        self._end()


def outage(attempts: list[dict[str, Any]]) -> float:
    """The longest run of failed attempts: from the first one's start to the
    next success's end (to the last failure's end if none followed)."""
    longest, first = 0.0, None
    for a in attempts:
        if not a["ok"]:
            first = a["t"] if first is None else first
        elif first is not None:
            longest = max(longest, a["t"] + a["s"] - first)
            first = None
    if first is not None:
        tail = attempts[-1]
        longest = max(longest, tail["t"] + tail["s"] - first)
    return longest
