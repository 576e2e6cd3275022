"""Building the one kazoo client a process uses.

The core never picks a concurrency model: callers pass the kazoo handler
(``SequentialEventletHandler`` in the eventlet launchers, the default
threading handler in tests and tools).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

LOG = logging.getLogger(__name__)


class NsdbUnavailable(RuntimeError):
    """ZooKeeper could not be reached."""


def make_client(hosts: str, session_timeout_ms: int = 30000, handler: Any = None,
                read_only: bool = False) -> KazooClient:
    sleep = {} if handler is None else {"sleep_func": handler.sleep_func}
    kwargs: dict[str, Any] = {
        "hosts": hosts,
        "timeout": session_timeout_ms / 1000.0,
        # Retry connection loss forever in the background; individual calls
        # are wrapped by ``client.retry`` where a caller wants a bound.
        "connection_retry": KazooRetry(max_tries=-1, delay=0.2, max_delay=2.0, **sleep),
        "command_retry": KazooRetry(max_tries=5, delay=0.1, max_delay=1.0, **sleep),
        "read_only": read_only,
    }
    if handler is not None:
        kwargs["handler"] = handler
    return KazooClient(**kwargs)


def start_with_retry(client: KazooClient, connect_timeout: float = 10.0,
                     retry_interval: float = 2.0, give_up_after: float | None = None,
                     sleep=time.sleep) -> None:
    """Start ``client``, retrying with a clear log line while ZooKeeper is down.

    ``give_up_after`` (seconds) bounds the wait; None waits forever, which is
    what a daemon wants at boot (ZooKeeper may come up after it).
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            client.start(timeout=connect_timeout)
            return
        except (KazooTimeoutError, client.handler.timeout_exception, OSError) as e:
            try:
                client.stop()
            except Exception:  # noqa: BLE001 - best effort cleanup before a retry
                pass
            waited = time.monotonic() - started
            where = ",".join(f"{h}:{p}" for h, p in client.hosts)
            if give_up_after is not None and waited >= give_up_after:
                raise NsdbUnavailable(
                    f"ZooKeeper at {where} unreachable after {waited:.0f}s") from e
            LOG.warning("ZooKeeper at %s unreachable (attempt %d: %s); retrying in %.1fs",
                        where, attempt, e or type(e).__name__, retry_interval)
            sleep(retry_interval)
