"""The one factory of state tables: through the State Proxy, or straight from ZooKeeper.

The agent asks for a device's tables here and does not care how they are fed:
``[state_proxy] enabled = false`` gives tables that read ZooKeeper directly
(:class:`~midonet_ryu.nsdb.state_table.StateTable`); otherwise tables follow
the State Proxy and fall back to ZooKeeper on their own
(:class:`~midonet_ryu.nsdb.state_proxy_transport.ProxiedStateTable`). Both have
the same interface. Tables are started; call ``stop()`` on a table when its
device goes, and on the provider at shutdown.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import (
    ARP_TABLE,
    IP4_MAC_TABLE,
    MAC_TABLE,
    PEERING_TABLE,
    K,
    TableSpec,
    V,
)
from midonet_ryu.nsdb.state_proxy_transport import StateProxyClient
from midonet_ryu.nsdb.state_table import StateTable
from midonet_ryu.nsdb.state_view import StateTableView

DISABLED = "disabled"

_CLIENT_OPTIONS = ("soft_reconnect_delay", "max_soft_reconnect_attempts",
                   "hard_reconnect_delay", "network_threads", "connect_timeout",
                   "read_timeout")


@dataclasses.dataclass(frozen=True)
class _DirectOnly:
    enabled: bool = False


DIRECT_ONLY: Any = _DirectOnly()
"""A ``conf`` that disables the proxy: every table reads ZooKeeper directly."""


class StateTableProvider:
    """State tables of devices, via the proxy or directly.

    ``conf`` is the ``[state_proxy]`` group (or anything with the same
    attributes); None means the proxy with default settings.
    """

    def __init__(self, zk: KazooClient, paths: Paths | None = None, conf: Any = None,
                 observe_update: Callable[[float], None] | None = None) -> None:
        self.zk = zk
        self.paths = paths or Paths()
        self.proxy: StateProxyClient | None = None
        if conf is None or conf.enabled:
            kwargs: dict[str, Any] = {} if conf is None else {
                name: getattr(conf, name) for name in _CLIENT_OPTIONS}
            self.proxy = StateProxyClient(zk, self.paths, observe_update=observe_update,
                                          **kwargs).start()

    @property
    def proxy_state(self) -> str:
        """The proxy connection's state, or "disabled" when tables read ZooKeeper."""
        return DISABLED if self.proxy is None else self.proxy.state

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()

    def table(self, spec: TableSpec[K, V], object_id: uuid.UUID,
              args: tuple[str, ...] = ()) -> StateTableView[K, V]:
        if self.proxy is None:
            return StateTable(self.zk, self.paths, spec, object_id, args).start()
        return self.proxy.table(spec, object_id, args)

    def bridge_mac_table(self, network_id: uuid.UUID, vlan: int = 0) -> StateTableView:
        return self.table(MAC_TABLE, network_id, (str(int(vlan)),))

    def bridge_ip4_mac_table(self, network_id: uuid.UUID) -> StateTableView:
        return self.table(IP4_MAC_TABLE, network_id)

    def router_arp_table(self, router_id: uuid.UUID) -> StateTableView:
        return self.table(ARP_TABLE, router_id)

    def port_peering_table(self, port_id: uuid.UUID) -> StateTableView:
        return self.table(PEERING_TABLE, port_id)


class StateTables(StateTableProvider):
    """The direct-ZooKeeper factory under its former name: a provider with the proxy off."""

    def __init__(self, client: KazooClient, paths: Paths | None = None) -> None:
        super().__init__(client, paths, DIRECT_ONLY)

    @property
    def client(self) -> KazooClient:
        return self.zk
