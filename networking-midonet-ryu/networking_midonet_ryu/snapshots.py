"""The resource dicts the cluster receives, read the way Neutron's API shows them.

The hooks and the full sync build them here, so that a resource journaled
after a change and the same resource in a full sync look alike (the sync
compares them with what the cluster stored). Each function reads through
the caller's context, so inside a transaction it sees that transaction's
writes.
"""

from __future__ import annotations

from typing import Any

from neutron_lib.plugins import constants as plugin_constants
from neutron_lib.plugins import directory

NETWORKS = 'networks'
SUBNETS = 'subnets'
PORTS = 'ports'
SECURITY_GROUPS = 'security_groups'
ROUTERS = 'routers'
FLOATINGIPS = 'floatingips'
ADDRESS_GROUPS = 'address_groups'

COLLECTIONS = (NETWORKS, SUBNETS, PORTS, SECURITY_GROUPS, ROUTERS, FLOATINGIPS,
               ADDRESS_GROUPS)


def core_plugin() -> Any:
    return directory.get_plugin()


def l3_plugin() -> Any:
    return directory.get_plugin(plugin_constants.L3)


def security_group(context: Any, sg_id: str, without_rule: str | None = None) -> dict | None:
    """The group with its rules as the database holds them now.

    The rules are queried again rather than taken from the group object: in
    a rule's precommit the group may sit in the session with the rule list
    it had before. ``without_rule`` leaves out a rule whose delete precommit
    runs before the row is gone.
    """
    from neutron.objects import securitygroup as sg_obj
    from neutron_lib.exceptions import NotFound

    plugin = core_plugin()
    admin = context.elevated()
    try:
        group = plugin.get_security_group(admin, sg_id)
    except NotFound:
        return None
    rules = sg_obj.SecurityGroupRule.get_objects(admin, security_group_id=sg_id)
    group['security_group_rules'] = sorted(
        (plugin._make_security_group_rule_dict(rule) for rule in rules
         if rule.id != without_rule),
        key=lambda rule: rule['id'])
    return group


def address_group(context: Any, ag_id: str) -> dict | None:
    from neutron_lib.exceptions import NotFound

    try:
        return core_plugin().get_address_group(context.elevated(), ag_id)
    except NotFound:
        return None


def router_from_db(plugin: Any, router_db: Any, context: Any = None) -> dict:
    """A router dict with the ``gw_port_id`` the cluster wants (Neutron's has it too).

    With a context, the extra routes are queried again: Neutron changes them
    through route objects, and inside that transaction the router's loaded
    route list may still be the old one.
    """
    router = plugin._make_router_dict(router_db)
    router['gw_port_id'] = router_db.gw_port_id
    if context is not None and 'routes' in router:
        from neutron.objects import router as l3_obj

        routes = l3_obj.RouterRoute.get_objects(context.elevated(), router_id=router_db.id)
        router['routes'] = sorted(plugin._make_extra_route_list(routes),
                                  key=lambda route: (route['destination'], route['nexthop']))
    return router


def router(context: Any, router_id: str, plugin: Any = None) -> dict | None:
    from neutron_lib.exceptions import l3 as l3_exc

    plugin = plugin or l3_plugin()
    try:
        router_db = plugin._get_router(context.elevated(), router_id)
    except l3_exc.RouterNotFound:
        return None
    return router_from_db(plugin, router_db, context)


def floatingip(context: Any, fip_id: str, plugin: Any = None) -> dict | None:
    """The floating IP as the database holds it now.

    Neutron changes floating IPs with bulk UPDATEs too (disassociation when
    a port goes), which leave the session's copy stale: the copy is expired
    first so that it is read again.
    """
    from neutron.db.models import l3 as l3_models
    from neutron.objects import router as l3_obj

    plugin = plugin or l3_plugin()
    admin = context.elevated()
    session = admin.session
    session.flush()
    cached = session.get(l3_models.FloatingIP, fip_id)
    if cached is None:
        return None
    session.expire(cached)
    obj = l3_obj.FloatingIP.get_object(admin, id=fip_id)
    return None if obj is None else plugin._make_floatingip_dict(obj)


def everything(context: Any) -> dict[str, list[dict]]:
    """Every resource the cluster should hold, in one read transaction."""
    from neutron_lib.db import api as db_api

    core = core_plugin()
    l3 = l3_plugin()
    with db_api.CONTEXT_READER.using(context):
        result: dict[str, list[dict]] = {
            NETWORKS: core.get_networks(context),
            SUBNETS: core.get_subnets(context),
            PORTS: core.get_ports(context),
            SECURITY_GROUPS: core.get_security_groups(context, default_sg=True),
            ADDRESS_GROUPS: core.get_address_groups(context),
            ROUTERS: [],
            FLOATINGIPS: [],
        }
        if l3 is not None:
            routers = l3.get_routers(context)
            for item in routers:
                # Neutron's router dict carries the DB object's gw_port_id.
                item.setdefault('gw_port_id', None)
                if 'routes' in item:
                    item['routes'] = sorted(item['routes'], key=lambda route: (
                        route['destination'], route['nexthop']))
            result[ROUTERS] = routers
            result[FLOATINGIPS] = l3.get_floatingips(context)
    for collection in result.values():
        collection.sort(key=lambda item: item['id'])
    for group in result[SECURITY_GROUPS]:
        group['security_group_rules'] = sorted(group.get('security_group_rules') or [],
                                               key=lambda rule: rule['id'])
    return result
