"""Assemble the REST API: the generic resources, the sub-resources with
handlers of their own, and the authentication middleware in front."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cluster_proxy.framework import ClusterContext
from cluster_proxy.rest_api import memberships, neutron, observed, traces
from cluster_proxy.rest_api.app import RestApi
from cluster_proxy.rest_api.auth import wrap
from midonet_ryu.neutron.inputs import Uplink
from midonet_ryu.nsdb.model_cache import ModelCache
from midonet_ryu.nsdb.port_activity import PortActivity
from midonet_ryu.nsdb.store import Store

EXTENSIONS = (*memberships.EXTENSIONS, *observed.EXTENSIONS, *traces.EXTENSIONS)


def build_api(store: Store, context: ClusterContext, cache: ModelCache | None = None,
              activity: PortActivity | None = None) -> RestApi:
    c = context.conf.cluster
    extensions = list(EXTENSIONS)
    n = context.conf.neutron
    if n.enabled:
        uplinks = [Uplink.parse(u) for u in n.provider_uplinks]
        extensions.append(neutron.extension(uplinks, activity, n.status_max_wait))
    return RestApi(store, context.paths, c.rest_api_base_path, c.rest_api_max_body_size,
                   extensions, cache)


def build_app(context: ClusterContext, cache: ModelCache | None = None,
              activity: PortActivity | None = None) -> Callable[..., Any]:
    """The WSGI app the service serves; reads come from ``cache`` while it is
    current, and every commit refreshes what it wrote there at once."""
    store = Store(context.zk, context.paths,
                  on_commit=cache.written if cache is not None else None)
    api = build_api(store, context, cache, activity)
    return wrap(api, context.conf, base_path=api.base_path)
