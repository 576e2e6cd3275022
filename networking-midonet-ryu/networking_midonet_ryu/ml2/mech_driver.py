"""The ML2 mechanism driver of midonet-ryu.

Precommit records what changed in the journal, in ML2's transaction;
postcommit only wakes the journal worker, which sends the rows (no HTTP in
an API request's path). Ports are bound to hosts running our agent
(``vif_type=ovs`` on ``br-int``), and become ACTIVE only when the cluster
reports the agent has bound them: a provisioning block of ours holds them
until then, as Neutron's L2 agents do with theirs.
"""

from __future__ import annotations

from typing import Any

import netaddr
from neutron.db import provisioning_blocks
from neutron_lib import constants as n_const
from neutron_lib import exceptions as n_exc
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import resources
from neutron_lib.db import api as db_api
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg
from oslo_log import log as logging

from networking_midonet_ryu import conf, snapshots
from networking_midonet_ryu.client import ClusterClient, ClusterError
from networking_midonet_ryu.db import journal
from networking_midonet_ryu.db import models as journal_models
from networking_midonet_ryu.journal import status
from networking_midonet_ryu.journal.worker import JournalWorker, notify
from networking_midonet_ryu.ml2 import groups
from networking_midonet_ryu.ml2.hosts import HostCache

conf.register_opts()

LOG = logging.getLogger(__name__)

SUPPORTED_NETWORK_TYPES = frozenset({
    n_const.TYPE_LOCAL, n_const.TYPE_FLAT, n_const.TYPE_VLAN,
    n_const.TYPE_VXLAN, n_const.TYPE_GENEVE, n_const.TYPE_GRE,
})
VIF_DETAILS = {
    portbindings.CAP_PORT_FILTER: True,
    portbindings.VIF_DETAILS_BRIDGE_NAME: 'br-int',
    portbindings.OVS_HYBRID_PLUG: False,
}
_UNBOUND = (portbindings.VIF_TYPE_UNBOUND, portbindings.VIF_TYPE_BINDING_FAILED)
IPV4_ONLY = 'midonet-ryu supports IPv4 subnets only'


def unsupported_subnet(subnet: dict[str, Any]) -> str | None:
    """Why the cluster cannot serve this subnet, or None.

    Its DHCP is DHCPv4: the DNS servers (option 6) and host routes (option
    121) it hands out must be IPv4 as well.
    """
    if subnet.get('ip_version') != n_const.IP_VERSION_4:
        return IPV4_ONLY
    for server in subnet.get('dns_nameservers') or []:
        if netaddr.IPAddress(server).version != n_const.IP_VERSION_4:
            return f'{IPV4_ONLY}: DNS server {server} is not IPv4'
    for route in subnet.get('host_routes') or []:
        if (netaddr.IPNetwork(route['destination']).version != n_const.IP_VERSION_4
                or netaddr.IPAddress(route['nexthop']).version != n_const.IP_VERSION_4):
            return f'{IPV4_ONLY}: host route {route["destination"]} is not IPv4'
    return None


_VOLATILE = frozenset(('status', 'revision_number', 'updated_at'))


def _only_status_changed(original: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    if not original:
        return False
    return ({k: v for k, v in original.items() if k not in _VOLATILE}
            == {k: v for k, v in current.items() if k not in _VOLATILE})


class MidonetRyuMechanismDriver(api.MechanismDriver):
    def initialize(self) -> None:
        conf.register_opts()
        self._client: ClusterClient | None = None
        self._hosts = HostCache(lambda: self.client.hosts(),
                                ttl=conf.options().hosts_cache_time)
        self.journal_worker = JournalWorker()
        journal_models.ensure_table_in_memory_db(
            db_api.get_context_manager().writer.get_engine())
        groups.subscribe()
        if 'port_security' not in (cfg.CONF.ml2.extension_drivers or []):
            LOG.warning('midonet-ryu: [ml2] extension_drivers lacks port_security; ports '
                        'reach the cluster without port_security_enabled and are filtered '
                        'as if it were on')

    @property
    def client(self) -> ClusterClient:
        if self._client is None:
            self._client = ClusterClient.from_conf(conf.options())
        return self._client

    @property
    def connectivity(self) -> str:
        return portbindings.CONNECTIVITY_L2

    def get_workers(self) -> list[JournalWorker]:
        return [self.journal_worker]

    # -- journal -----------------------------------------------------------------

    @staticmethod
    def _upsert(context: Any, collection: str) -> None:
        resource = context.current
        journal.record(context.plugin_context, collection, resource['id'],
                       journal_models.UPSERT, resource)

    @staticmethod
    def _delete(context: Any, collection: str) -> None:
        journal.record(context.plugin_context, collection, context.current['id'],
                       journal_models.DELETE)

    def create_network_precommit(self, context: Any) -> None:
        self._upsert(context, snapshots.NETWORKS)

    def update_network_precommit(self, context: Any) -> None:
        self._upsert(context, snapshots.NETWORKS)

    def delete_network_precommit(self, context: Any) -> None:
        self._delete(context, snapshots.NETWORKS)

    def create_subnet_precommit(self, context: Any) -> None:
        self._refuse_unsupported(context.current)
        self._upsert(context, snapshots.SUBNETS)

    def update_subnet_precommit(self, context: Any) -> None:
        self._refuse_unsupported(context.current)
        self._upsert(context, snapshots.SUBNETS)

    def delete_subnet_precommit(self, context: Any) -> None:
        self._delete(context, snapshots.SUBNETS)

    def create_port_precommit(self, context: Any) -> None:
        self._upsert(context, snapshots.PORTS)
        self._block_until_bound(context)

    def update_port_precommit(self, context: Any) -> None:
        # A port's status goes DOWN -> ACTIVE because the cluster said so: that
        # change translates into nothing, and sending it would cost the
        # cluster a transaction per port on the way to ACTIVE.
        if not _only_status_changed(context.original, context.current):
            self._upsert(context, snapshots.PORTS)
        self._block_until_bound(context)

    def delete_port_precommit(self, context: Any) -> None:
        self._delete(context, snapshots.PORTS)

    @staticmethod
    def _refuse_unsupported(subnet: dict[str, Any]) -> None:
        reason = unsupported_subnet(subnet)
        if reason:
            raise n_exc.InvalidInput(error_message=reason)

    def _postcommit(self, context: Any) -> None:
        notify()

    create_network_postcommit = update_network_postcommit = _postcommit
    delete_network_postcommit = _postcommit
    create_subnet_postcommit = update_subnet_postcommit = _postcommit
    delete_subnet_postcommit = _postcommit
    create_port_postcommit = update_port_postcommit = _postcommit
    delete_port_postcommit = _postcommit

    # -- binding ------------------------------------------------------------------

    @staticmethod
    def _bound_here(context: Any) -> bool:
        if not context.host or context.vif_type in _UNBOUND:
            return False
        return any(level.get(api.BOUND_DRIVER) == status.DRIVER_NAME
                   for level in context.binding_levels or [])

    def _block_until_bound(self, context: Any) -> None:
        """Hold a port bound by us DOWN until the cluster says its agent has it."""
        port = context.current
        if port.get('status') == n_const.PORT_STATUS_ACTIVE or not self._bound_here(context):
            return
        provisioning_blocks.add_provisioning_component(
            context.plugin_context, port['id'], resources.PORT, status.ENTITY)

    def bind_port(self, context: Any) -> None:
        port = context.current
        vnic_type = port.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL)
        if vnic_type != portbindings.VNIC_NORMAL or not context.host:
            return
        try:
            known = self._hosts.knows(context.host)
        except ClusterError as exc:
            LOG.warning('Not binding port %(port)s: cannot ask the midonet-ryu cluster '
                        'about host %(host)s (%(err)s)',
                        {'port': port['id'], 'host': context.host, 'err': exc})
            return
        if not known:
            LOG.debug('Not binding port %(port)s: no midonet-ryu agent on %(host)s',
                      {'port': port['id'], 'host': context.host})
            return
        for segment in context.segments_to_bind:
            if segment[api.NETWORK_TYPE] in SUPPORTED_NETWORK_TYPES:
                # DOWN: the new host's agent has not bound it yet; our
                # provisioning block (update precommit) holds it there.
                context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                    dict(VIF_DETAILS), status=n_const.PORT_STATUS_DOWN)
                return
        LOG.debug('Not binding port %s: no segment of a supported type', port['id'])
