"""TCP probes between kernel VMs of a netns lab: a listener that reports who
connected (so a test sees the source address NAT left), and a connect that
says whether the handshake completed in time."""
from __future__ import annotations

import os
import select
import subprocess
import sys

from tools.lab.netns import NetnsVm

_LISTENER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
print("listening", flush=True)
while True:
    c, peer = s.accept()
    print(peer[0], flush=True)
    c.sendall(b"hello\n"); c.close()
"""
_CONNECT = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print("ok" if c.recv(16).startswith(b"hello") else "no-greeting")
except OSError as e:
    print("failed", e)
"""


class Listener:
    """``python3 -c`` in the VM, listening on ``port`` until :meth:`stop`."""

    def __init__(self, vm: NetnsVm, port: int) -> None:
        # unbuffered: select() must see every line the listener printed
        self.proc = vm.popen(sys.executable, "-c", _LISTENER, str(port),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self._pending = b""
        first = self._lines(10.0)
        if first[:1] != ["listening"]:
            self.stop()
            raise RuntimeError(f"listener on {vm.name}:{port} did not start: {first!r}")

    def _lines(self, timeout: float) -> list[str]:
        stdout = self.proc.stdout
        assert stdout is not None
        out: list[str] = []
        while not out and select.select([stdout], [], [], timeout)[0]:
            chunk = os.read(stdout.fileno(), 65536)
            if not chunk:
                break
            self._pending += chunk
            *lines, self._pending = self._pending.split(b"\n")
            out += [line.decode().strip() for line in lines]
        return out

    def peers(self, timeout: float = 0.5) -> list[str]:
        """Source addresses of the connections accepted since the last call."""
        out = self._lines(timeout)
        while True:
            more = self._lines(0.05)
            if not more:
                return out
            out += more

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)


def tcp_connects(vm: NetnsVm, host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether ``vm`` completes a TCP handshake with ``host:port`` (and reads
    the listener's greeting) within ``timeout``."""
    proc = vm.exec(sys.executable, "-c", _CONNECT, host, str(port), str(timeout),
                   timeout=timeout + 10, check=False)
    return proc.stdout.strip() == "ok"
