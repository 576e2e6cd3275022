"""The agent's start: the local switch, the NSDB session and what hangs off it.

One function, in the order that matters: the integration bridge and tunnel
ports exist before the controller is told anything, the flow generation is
bumped before a flow is installed (so earlier runs' flows are recognisable),
the host is registered and in its tunnel zones before its ports are served,
and the topology cache is loaded before the first simulation.
"""
from __future__ import annotations

import dataclasses
import gc
import logging
import uuid
from collections.abc import Callable
from typing import Any

from os_ken.lib import hub

from apps import config as agent_config
from apps.ovsdb import TUNNEL_PORT_NAMES, Ovsdb
from midonet_ryu.nsdb import hosts
from midonet_ryu.nsdb.client import make_client, start_with_retry
from midonet_ryu.nsdb.demand_topology import DemandTopologyCache
from midonet_ryu.nsdb.nat_lease import NatLeaser
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.remote_ports import RemotePorts
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.state_table_provider import StateTableProvider
from midonet_ryu.nsdb.store import Store
from midonet_ryu.nsdb.topology_cache import TopologyCache
from midonet_ryu.topology import base as model_base
from midonet_ryu.topology.model import TunnelZoneType

LOG = logging.getLogger(__name__)
GENERATION_KEY = "midonet-generation"
OWN_PORTS_WAIT = 10.0  # seconds the boot waits for this host's ports to be read


@dataclasses.dataclass
class Services:
    """Everything the agent talks to, opened by :func:`boot`."""

    ovsdb: Ovsdb
    generation: int
    zk: Any
    store: Store
    keys: StateKeys
    remote: RemotePorts
    tables: StateTableProvider
    leaser: NatLeaser
    cache: TopologyCache | DemandTopologyCache

    @property
    def demand(self) -> DemandTopologyCache | None:
        """The topology cache when it loads on demand (what to ask it for)."""
        return self.cache if isinstance(self.cache, DemandTopologyCache) else None

    def close(self) -> None:
        """Close the sessions that outlive the process: ZooKeeper (so this
        host's ephemeral nodes go at once) and OVSDB."""
        for what, close in (("the state tables", self.tables.stop),
                            ("ZooKeeper", lambda: (self.zk.stop(), self.zk.close())),
                            ("OVSDB", self.ovsdb.close)):
            try:
                close()
            except Exception:  # noqa: BLE001 - shutting down regardless
                LOG.debug("closing %s failed", what, exc_info=True)


def boot(conf: Any, host_id: uuid.UUID, hostname: str,
         zk_state: Callable[[str], None],
         remote_changed: Callable[[uuid.UUID], None],
         host_changed: Callable[[uuid.UUID], None],
         topology_changed: Callable[[str, uuid.UUID, Any, Any], None],
         observe_update: Callable[[float], None] | None = None,
         topology_loaded: Callable[[], None] | None = None) -> Services:
    c = conf
    bridge = c.agent.integration_bridge
    controller = c.agent.openflow_controller_target or (
        f"tcp:{c.agent.openflow_listen_address}:{c.agent.openflow_listen_port}")
    ovsdb = Ovsdb(c.agent.ovsdb_connection, c.agent.ovsdb_timeout)
    ovsdb.ensure_integration_bridge(bridge, c.agent.datapath_type, controller,
                                    c.agent.packet_in_rate_limit, c.agent.packet_in_burst_limit)
    for ttype in TUNNEL_PORT_NAMES:
        ovsdb.ensure_tunnel_port(bridge, ttype, inherit_tos=c.agent.flow_state_dscp > 0)
    previous = ovsdb.bridge_external_id(bridge, GENERATION_KEY)
    prev_gen = int(previous) if previous and previous.isdigit() else 0
    generation = (prev_gen + 1) & 0xFFFF or 1
    ovsdb.set_bridge_external_id(bridge, GENERATION_KEY, str(generation))
    LOG.info("host %s (%s), flow generation %d", host_id, hostname, generation)

    from kazoo.handlers.eventlet import SequentialEventletHandler

    zk = make_client(c.zookeeper.zookeeper_hosts, c.zookeeper.session_timeout,
                     handler=SequentialEventletHandler())
    start_with_retry(zk, retry_interval=c.zookeeper.connect_retry_interval, sleep=hub.sleep)
    zk.add_listener(zk_state)
    paths = Paths(c.zookeeper.root_key)
    store = Store(zk, paths)
    keys = StateKeys(zk, paths, host_id)
    hosts.register_host(store, keys, host_id, hostname)
    _join_tunnel_zones(conf, store, host_id)
    remote = RemotePorts(zk, paths, remote_changed, host_changed, hub.spawn_after,
                         c.agent.host_down_hold)
    # State tables through the cluster's State Proxy (differential updates),
    # falling back to ZooKeeper while no proxy answers; writes always go
    # to ZooKeeper. [state_proxy] enabled = false reads ZooKeeper directly.
    tables = StateTableProvider(zk, paths, c.state_proxy, observe_update)
    leaser = NatLeaser(zk, paths, host_id)
    cache: TopologyCache | DemandTopologyCache
    if c.agent.topology_on_demand:
        # this host's record and ports now; the rest as simulations reach it
        cache = DemandTopologyCache(zk, paths, host_id, topology_changed, topology_loaded)
        cache.start()
        if not cache.wait_synced(OWN_PORTS_WAIT):
            LOG.warning("this host's ports not all read within %.0f s; serving them as "
                        "they come", OWN_PORTS_WAIT)
    else:
        cache = TopologyCache(zk, paths, model_base.model_classes().values(), topology_changed)
        cache.start()
    # The topology is long-lived: keep it out of the cyclic collector's
    # generations so full collections do not pause packet handling.
    gc.collect()
    gc.freeze()
    return Services(ovsdb, generation, zk, store, keys, remote, tables, leaser, cache)


def _join_tunnel_zones(conf: Any, store: Store, host_id: uuid.UUID) -> None:
    c = conf.agent
    zones = list(c.tunnel_zones) or ["default"]
    zone_type = TunnelZoneType(c.tunnel_type)
    for zone in zones:
        ip = c.tunnel_zone_underlay.get(zone) or agent_config.underlay_ip(conf)
        if not ip:
            LOG.error("no underlay address for tunnel zone %s: set [agent] underlay_ip", zone)
            continue
        hosts.join_tunnel_zone(store, zone, host_id, ip, zone_type)
        LOG.info("member of tunnel zone %s at %s", zone, ip)
