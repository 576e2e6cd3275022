"""The L3 service plugin of midonet-ryu: Neutron's router database, journaled.

It is built from the database mixins Neutron's own ``L3RouterPlugin`` uses
(routers with SNAT on/off through ext-gw-mode, extra routes, floating IPs,
their port details and pools, DNS of floating IPs), without what serves L3
agents: no scheduler, no RPC, no HA or DVR; the cluster's agents route.

Where each change is journaled, inside the transaction that makes it:

- router create / update / delete: ROUTER PRECOMMIT_CREATE /
  PRECOMMIT_UPDATE / PRECOMMIT_DELETE. An update's gateway and extra routes
  are written before its last PRECOMMIT_UPDATE, so that one sees them all.
- floating IP create / update (association changes) / delete:
  FLOATING_IP PRECOMMIT_CREATE / PRECOMMIT_UPDATE / PRECOMMIT_DELETE. The
  disassociation when a fixed port is deleted also publishes
  PRECOMMIT_UPDATE (in ML2's delete transaction), and PRECOMMIT_DELETE comes
  from the deletion of the floating IP's own port.

Two changes have no event inside their transaction, and are journaled right
after it, in a transaction of their own (a crash in between is left to the
periodic full sync):

- a gateway set at router create: the gateway port is attached after the
  router's PRECOMMIT_CREATE; ROUTER AFTER_CREATE journals the router again.
- router interface add / remove: the interface itself is a port (journaled
  by ML2), but the router's revision changes; ROUTER_INTERFACE AFTER_CREATE
  / AFTER_DELETE journal the router again.
"""

from __future__ import annotations

from typing import Any

from neutron.db import (
    dns_db,
    extraroute_db,
    l3_fip_pools_db,
    l3_fip_port_details,
    l3_gwmode_db,
)
from neutron.db.models import l3 as l3_models
from neutron.quota import resource_registry
from neutron_lib import rpc as n_rpc
from neutron_lib.api.definitions import (
    extraroute,
    extraroute_atomic,
    fip_port_details,
    floatingip_pools,
    l3_ext_gw_mode,
)
from neutron_lib.api.definitions import l3 as l3_apidef
from neutron_lib.callbacks import events, registry, resources
from neutron_lib.plugins import constants as plugin_constants
from neutron_lib.services import base as service_base

from networking_midonet_ryu import conf, snapshots
from networking_midonet_ryu.db import journal
from networking_midonet_ryu.db.models import DELETE, UPSERT
from networking_midonet_ryu.journal.worker import notify
from networking_midonet_ryu.ml2.groups import LATE

conf.register_opts()


class MidonetRyuL3Plugin(service_base.ServicePluginBase,
                         extraroute_db.ExtraRoute_dbonly_mixin,
                         l3_gwmode_db.L3_NAT_dbonly_mixin,
                         dns_db.DNSDbMixin,
                         l3_fip_port_details.Fip_port_details_db_mixin,
                         l3_fip_pools_db.FloatingIPPoolsMixin):
    _supported_extension_aliases = (
        l3_apidef.ALIAS,
        l3_ext_gw_mode.ALIAS,
        extraroute.ALIAS,
        extraroute_atomic.ALIAS,
        fip_port_details.ALIAS,
        floatingip_pools.ALIAS,
    )

    __native_pagination_support = True
    __native_sorting_support = True

    @resource_registry.tracked_resources(router=l3_models.Router,
                                         floatingip=l3_models.FloatingIP)
    def __init__(self) -> None:
        super().__init__()
        self._subscribe()

    @property
    def supported_extension_aliases(self) -> list[str]:
        # A list of this instance's own: Neutron may edit it.
        if not hasattr(self, '_aliases'):
            self._aliases = list(self._supported_extension_aliases)
        return self._aliases

    @classmethod
    def get_plugin_type(cls) -> str:
        return plugin_constants.L3

    def get_plugin_description(self) -> str:
        return 'midonet-ryu L3 routers and floating IPs, carried out by the midonet-ryu cluster'

    # Notifications for other services (telemetry, DNS), as Neutron's own
    # plugin sends them; the L3 agent RPC it also sends has no listener here.
    def add_router_interface(self, context: Any, router_id: str,
                             interface_info: Any = None) -> Any:
        info = super().add_router_interface(context, router_id, interface_info)
        self._notify_interface(context, 'router.interface.create', info)
        return info

    def remove_router_interface(self, context: Any, router_id: str,
                                interface_info: Any) -> Any:
        info = super().remove_router_interface(context, router_id, interface_info)
        self._notify_interface(context, 'router.interface.delete', info)
        return info

    @staticmethod
    def _notify_interface(context: Any, event_type: str, info: Any) -> None:
        n_rpc.get_notifier('network').info(context, event_type, {'router_interface': info})

    # Nothing listens to the router notifications of L3 agents here.
    def notify_router_updated(self, context: Any, router_id: str,
                              operation: Any = None) -> None:
        notify()

    def notify_routers_updated(self, context: Any, router_ids: Any,
                               operation: Any = None, data: Any = None) -> None:
        notify()

    def notify_router_deleted(self, context: Any, router_id: str) -> None:
        notify()

    # -- hooks ---------------------------------------------------------------------

    def _subscribe(self) -> None:
        router, fip, interface = (resources.ROUTER, resources.FLOATING_IP,
                                  resources.ROUTER_INTERFACE)
        subscribe = registry.subscribe
        subscribe(self._router_created, router, events.PRECOMMIT_CREATE, priority=LATE)
        subscribe(self._router_updated, router, events.PRECOMMIT_UPDATE, priority=LATE)
        subscribe(self._router_deleted, router, events.PRECOMMIT_DELETE, priority=LATE)
        subscribe(self._router_after_create, router, events.AFTER_CREATE, priority=LATE)
        subscribe(self._router_again, interface, events.AFTER_CREATE, priority=LATE)
        subscribe(self._router_again, interface, events.AFTER_DELETE, priority=LATE)
        subscribe(self._fip_created, fip, events.PRECOMMIT_CREATE, priority=LATE)
        subscribe(self._fip_updated, fip, events.PRECOMMIT_UPDATE, priority=LATE)
        subscribe(self._fip_deleted, fip, events.PRECOMMIT_DELETE, priority=LATE)
        for resource in (router, fip):
            for event in (events.AFTER_UPDATE, events.AFTER_DELETE):
                subscribe(self._committed, resource, event, priority=LATE)
        subscribe(self._committed, fip, events.AFTER_CREATE, priority=LATE)

    def _record_router(self, context: Any, router_id: str) -> None:
        router = snapshots.router(context, router_id, self)
        if router is not None:
            journal.record(context, snapshots.ROUTERS, router_id, UPSERT, router)

    def _router_created(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        context = payload.context
        router_db = payload.metadata['router_db']
        context.session.flush()
        journal.record(context, snapshots.ROUTERS, router_db.id, UPSERT,
                       snapshots.router_from_db(self, router_db, context))

    def _router_updated(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        self._record_router(payload.context, payload.resource_id)

    def _router_deleted(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        journal.record(payload.context, snapshots.ROUTERS, payload.resource_id, DELETE)

    def _router_after_create(self, resource: str, event: str, trigger: Any,
                             payload: Any) -> None:
        if (payload.latest_state or {}).get(l3_apidef.EXTERNAL_GW_INFO):
            self._record_router(payload.context, payload.resource_id)
        notify()

    def _router_again(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        self._record_router(payload.context, payload.resource_id)
        notify()

    def _record_fip(self, context: Any, fip_id: str) -> None:
        fip = snapshots.floatingip(context, fip_id, self)
        if fip is not None:
            journal.record(context, snapshots.FLOATINGIPS, fip_id, UPSERT, fip)

    def _fip_created(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        self._record_fip(payload.context, payload.resource_id)

    def _fip_updated(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        self._record_fip(payload.context, payload.desired_state.id)

    def _fip_deleted(self, resource: str, event: str, trigger: Any, payload: Any) -> None:
        # Published for the deletion of the floating IP's port: the payload
        # is that port's, and the floating IP row is still there.
        context = payload.context
        fip_ids = [row[0] for row in context.session.query(l3_models.FloatingIP.id)
                   .filter(l3_models.FloatingIP.floating_port_id == payload.resource_id)]
        for fip_id in fip_ids:
            journal.record(context, snapshots.FLOATINGIPS, fip_id, DELETE)

    def _committed(self, resource: str, event: str, trigger: Any, payload: Any = None) -> None:
        notify()
