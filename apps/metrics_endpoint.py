"""Serve a Prometheus registry over HTTP (``GET /metrics``) on a green thread.

Both daemons (``midonet-agent`` and ``midonet-cluster``) are eventlet-monkey-
patched, so the endpoint is prometheus-client's ``make_wsgi_app(registry)``
under ``eventlet.wsgi.server`` on one green thread, as FAUCET serves its
registry through os-ken's ``hub.WSGIServer`` (eventlet's wsgi underneath).
Why not ``prometheus_client.start_http_server``: it brings its own
``ThreadingWSGIServer`` with a thread per scrape and an access log line per
request; under eventlet those become green threads anyway, and eventlet's own
server lets us bind synchronously (so a taken port is reported at start, by
the caller's log, not by a dying thread), turn the access log off, bound a
stuck scraper with a socket timeout and stop the server by closing one socket.

Declaring metrics is :mod:`midonet_ryu.metrics`' job; this module only does
the I/O, so it lives with the shells in ``apps/``.
"""
from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

import eventlet
import eventlet.wsgi
from prometheus_client import CollectorRegistry, make_wsgi_app

LOG = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
PATH = "/metrics"
SCRAPE_TIMEOUT = 10.0
"""Seconds a scraper may stall a request before its connection is dropped."""


@dataclasses.dataclass
class MetricsServer:
    """A running endpoint: where it listens and how to stop it."""

    host: str
    port: int
    sock: socket.socket
    thread: Any  # eventlet GreenThread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{PATH}"

    def stop(self) -> None:
        self.thread.kill()
        try:
            self.sock.close()
        except OSError:
            pass


def _only_metrics(app: Callable) -> Callable:
    """``make_wsgi_app`` answers every path; anything but /metrics is a typo to report."""

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"metrics are at /metrics\n"]
        return app(environ, start_response)

    return wrapped


def serve(registry: CollectorRegistry, host: str = DEFAULT_HOST,
          port: int = 7300) -> MetricsServer | None:
    """Serve ``registry`` on ``host:port`` (port 0: any free port); None when it cannot.

    A port that is taken or an address that is not ours is logged as an error
    and the daemon carries on without metrics: losing the endpoint must not take
    forwarding or the State Proxy down with it. Callers treat ``metrics_port = 0``
    as disabled and do not call this at all.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = eventlet.listen((host, port), family=family)
    except OSError as e:
        LOG.error("metrics endpoint cannot listen on %s:%s (%s); serving no metrics",
                  host, port, e)
        return None
    bound = sock.getsockname()[1]
    thread = eventlet.spawn(eventlet.wsgi.server, sock, _only_metrics(make_wsgi_app(registry)),
                            log_output=False, socket_timeout=SCRAPE_TIMEOUT)
    server = MetricsServer(host, bound, sock, thread)
    LOG.info("serving metrics on %s", server.url)
    return server
