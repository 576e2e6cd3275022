"""The ``rest_api`` cluster service: the REST API on eventlet's WSGI server.

One green thread accepts; each request runs on a green thread of a bounded
pool (``rest_api_max_connections``), against the node's one kazoo client. The
bound address is registered in ``<root>/service-discovery/rest-api`` so the
CLI, tests and other services can find the API without configuration.
"""
from __future__ import annotations

import logging
import socket
from typing import Any

import eventlet
import eventlet.wsgi

from cluster_proxy.framework import ClusterContext, ClusterService
from cluster_proxy.rest_api.factory import build_app
from midonet_ryu.nsdb import discovery
from midonet_ryu.nsdb.model_cache import ModelCache
from midonet_ryu.nsdb.port_activity import PortActivity

LOG = logging.getLogger(__name__)
DISCOVERY_NAME = "rest-api"


class RestApiService(ClusterService):
    name = "rest_api"

    def __init__(self, context: ClusterContext) -> None:
        super().__init__(context)
        self.sock: socket.socket | None = None
        self.thread: Any = None
        self.port = 0
        self.registration: Any = None
        self.cache: ModelCache | None = None
        self.activity: PortActivity | None = None

    def start(self) -> None:
        c = self.context.conf.cluster
        self.cache = ModelCache(self.context.zk, self.context.paths).start()
        if self.context.conf.neutron.enabled:
            self.activity = PortActivity(self.context.zk, self.context.paths).start()
        app = build_app(self.context, self.cache, self.activity)
        host = c.rest_api_listen_address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = eventlet.listen((host, c.rest_api_port), family=family, backlog=1024)
        self.port = self.sock.getsockname()[1]
        pool = eventlet.GreenPool(c.rest_api_max_connections)
        self.thread = eventlet.spawn(
            eventlet.wsgi.server, self.sock, app, custom_pool=pool, log_output=False,
            socket_timeout=c.rest_api_socket_timeout, keepalive=True)
        advertise = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        self.registration = discovery.ServiceRegistration(
            self.context.zk, self.context.paths, DISCOVERY_NAME, advertise, self.port)
        self.registration.start()
        LOG.info("REST API on http://%s:%d%s", host, self.port, c.rest_api_base_path)

    def stop(self, timeout: float) -> None:
        if self.registration is not None:
            try:
                self.registration.stop()
            except Exception:  # noqa: BLE001 - the session may already be gone
                LOG.debug("REST API deregistration failed", exc_info=True)
        if self.thread is not None:
            self.thread.kill()
        if self.sock is not None:
            self.sock.close()
        if self.cache is not None:
            self.cache.stop()
        if self.activity is not None:
            self.activity.stop()

    def health(self) -> dict[str, Any]:
        return {"running": self.thread is not None and not self.thread.dead, "port": self.port,
                "cache_ready": bool(self.cache and self.cache.ready),
                "cached_objects": len(self.cache) if self.cache else 0}
