"""Assemble the REST API: the generic resources, the sub-resources with
handlers of their own, and the authentication middleware in front."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cluster_proxy.framework import ClusterContext
from cluster_proxy.rest_api import memberships, observed, traces
from cluster_proxy.rest_api.app import RestApi
from cluster_proxy.rest_api.auth import wrap
from midonet_ryu.nsdb.store import Store

EXTENSIONS = (*memberships.EXTENSIONS, *observed.EXTENSIONS, *traces.EXTENSIONS)


def build_api(store: Store, context: ClusterContext) -> RestApi:
    c = context.conf.cluster
    return RestApi(store, context.paths, c.rest_api_base_path, c.rest_api_max_body_size,
                   EXTENSIONS)


def build_app(context: ClusterContext) -> Callable[..., Any]:
    """The WSGI app the service serves."""
    api = build_api(Store(context.zk, context.paths), context)
    return wrap(api, context.conf, base_path=api.base_path)
