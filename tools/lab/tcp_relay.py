"""A TCP relay the lab can cut: one host's path to a service (its agent's
ZooKeeper connections) broken while everything else goes on, a network
partition on one machine.

socat forwards each connection; :meth:`cut` ends it and every relayed
connection (new ones are refused), :meth:`heal` listens again on the same
port.
"""
from __future__ import annotations

import os
import subprocess

from tools.lab.ovs import forget_pid, register_pid
from tools.lab.procs import end_process_group, free_port, port_open, wait_until


class TcpRelay:
    def __init__(self, target_host: str, target_port: int, log_dir: str,
                 listen_port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = listen_port or free_port()
        self.log_path = os.path.join(log_dir, f"relay-{self.port}.log")
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def heal(self) -> TcpRelay:
        """Listen (again)."""
        if self.proc is not None:
            return self
        host, port = self.target
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["socat", f"TCP-LISTEN:{self.port},bind=127.0.0.1,fork,reuseaddr",
                 f"TCP:{host}:{port},nodelay"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True)
        register_pid(self.proc.pid, f"TCP relay to {host}:{port}")
        wait_until(lambda: port_open("127.0.0.1", self.port), 5.0, 0.02,
                   what=f"relay port {self.port}")
        return self

    start = heal

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones."""
        if self.proc is None:
            return
        end_process_group(self.proc)
        forget_pid(self.proc.pid)
        self.proc = None

    stop = cut
