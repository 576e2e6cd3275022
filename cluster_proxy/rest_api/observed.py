"""Read-only views of what the agents observe and write: the state tables
(a bridge's MAC and IP-to-MAC tables, a router's ARP table), host liveness and
interfaces, and the system state. None of it is topology: the API shows it and
refuses writes with 405.
"""
from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Callable
from typing import Any

import webob

from cluster_proxy.rest_api.app import RestApi
from cluster_proxy.rest_api.errors import ApiError, not_found
from cluster_proxy.rest_api.negotiation import vendor
from cluster_proxy.rest_api.ownership import caller_of
from midonet_ryu.api.openapi import Operation
from midonet_ryu.api.resources import BY_COLLECTION
from midonet_ryu.nsdb.hosts import ALIVE
from midonet_ryu.nsdb.state_catalogue import ARP_TABLE, IP4_MAC_TABLE, MAC_TABLE
from midonet_ryu.nsdb.state_snapshot import read_table, table_args
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.model import Host

INTERFACES = "interfaces"
"""The host state key where an agent publishes its interfaces (a JSON list)."""

MAC_ENTRY = {"type": "object", "additionalProperties": False, "properties": {
    "bridgeId": {"type": "string"}, "macAddr": {"type": "string"},
    "portId": {"type": "string"}, "vlanId": {"type": ["integer", "null"]}}}
IP4_MAC_ENTRY = {"type": "object", "additionalProperties": False, "properties": {
    "bridgeId": {"type": "string"}, "ip": {"type": "string"}, "mac": {"type": "string"}}}
ARP_ENTRY = {"type": "object", "additionalProperties": False, "properties": {
    "routerId": {"type": "string"}, "ip": {"type": "string"}, "mac": {"type": ["string", "null"]},
    "expiry": {"type": "integer"}, "stale": {"type": "integer"}}}
INTERFACE = {"type": "object", "properties": {
    "uri": {"type": "string"}, "hostId": {"type": "string"}, "name": {"type": "string"},
    "mac": {"type": ["string", "null"]}, "mtu": {"type": ["integer", "null"]},
    "status": {"type": ["integer", "null"]}, "type": {"type": ["string", "null"]},
    "addresses": {"type": "array", "items": {"type": "string"}},
    "portId": {"type": ["string", "null"]}}}
SYSTEM_STATE = {"type": "object", "additionalProperties": False, "properties": {
    "uri": {"type": "string"}, "state": {"type": "string"},
    "availability": {"type": "string"}, "writeVersion": {"type": "string"}}}


def _array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def state_tables(api: RestApi) -> None:
    zk, paths = api.store.client, api.paths

    def device(req: webob.Request, collection: str, id: str) -> ModelObject:
        found: ModelObject = api.owned(req, BY_COLLECTION[collection], id)
        return found

    def mac_table(req: webob.Request, id: str) -> webob.Response:
        net = device(req, "bridges", id)
        out = []
        for arg in table_args(zk, paths, MAC_TABLE, net.id):
            vlan = int(arg) if arg.isdigit() else 0
            for mac, port in sorted(read_table(zk, paths, MAC_TABLE, net.id, (arg,)).items()):
                out.append({"bridgeId": str(net.id), "macAddr": mac, "portId": str(port),
                            "vlanId": vlan or None})
        return api.respond(req, out, vendor("collection.MacPort-v2"))

    def ip4_mac_table(req: webob.Request, id: str) -> webob.Response:
        net = device(req, "bridges", id)
        table = read_table(zk, paths, IP4_MAC_TABLE, net.id)
        out = [{"bridgeId": str(net.id), "ip": str(ip), "mac": mac}
               for ip, mac in sorted(table.items())]
        return api.respond(req, out, vendor("collection.IP4MacPair-v1"))

    def arp_table(req: webob.Request, id: str) -> webob.Response:
        router = device(req, "routers", id)
        table = read_table(zk, paths, ARP_TABLE, router.id)
        out = [{"routerId": str(router.id), "ip": str(ip), "mac": entry.mac,
                "expiry": entry.expiry, "stale": entry.stale}
               for ip, entry in sorted(table.items(), key=lambda kv: ipaddress.ip_address(kv[0]))]
        return api.respond(req, out, vendor("collection.ArpEntry-v1"))

    api.route("bridge_mac_table", "/bridges/{id}/mac_table", GET=(mac_table, Operation(
        "the bridge's learned MAC -> port entries, every VLAN", response=_array(MAC_ENTRY),
        tag="state", media=vendor("collection.MacPort-v2"))))
    api.route("bridge_arp_table", "/bridges/{id}/arp_table", GET=(ip4_mac_table, Operation(
        "the bridge's IP -> MAC entries (ARP suppression)", response=_array(IP4_MAC_ENTRY),
        tag="state", media=vendor("collection.IP4MacPair-v1"))))
    api.route("router_arp_table", "/routers/{id}/arp_table", GET=(arp_table, Operation(
        "the router's ARP cache", response=_array(ARP_ENTRY), tag="state",
        media=vendor("collection.ArpEntry-v1"))))


def hosts(api: RestApi) -> None:
    zk, paths = api.store.client, api.paths

    def alive(host_id: uuid.UUID) -> bool:
        return zk.exists(paths.state(host_id, "Host", host_id, ALIVE)) is not None

    def extras(obj: ModelObject) -> dict[str, Any]:
        return {"alive": alive(obj.id), "addresses": []}

    api.extras["hosts"] = extras

    def refuse_alive(tx: Any, host: ModelObject) -> None:
        if alive(host.id):
            raise ApiError(409, f"host {host.id} is alive: stop its agent before deleting it")

    api.before_delete["hosts"] = refuse_alive

    def interfaces(req: webob.Request, id: str) -> webob.Response:
        if not caller_of(req).is_admin:
            raise ApiError(403, "hosts are managed by administrators")
        host_id = uuid.UUID(id)
        if api.reads.find(Host, host_id) is None:
            raise not_found(f"host {id} does not exist")
        try:
            data, _ = zk.get(paths.state(host_id, "Host", host_id, INTERFACES))
            listed = json.loads(data or b"[]")
        except Exception:  # noqa: BLE001 - absent or unreadable: no interfaces known
            listed = []
        base = f"{api.base_uri(req)}/hosts/{host_id}/interfaces"
        out = [dict(i, uri=f"{base}/{i.get('name', '')}", hostId=str(host_id))
               for i in listed if isinstance(i, dict)]
        return api.respond(req, out, vendor("collection.Interface-v1"))

    api.route("host_interfaces", "/hosts/{id}/interfaces", GET=(interfaces, Operation(
        "the interfaces the host's agent reports", response=_array(INTERFACE),
        tag="infrastructure", media=vendor("collection.Interface-v1"))))


def system_state(api: RestApi) -> None:
    def get(req: webob.Request) -> webob.Response:
        return api.respond(req, {"uri": f"{api.base_uri(req)}/system_state",
                                 "state": "ACTIVE", "availability": "READWRITE",
                                 "writeVersion": "5.0"}, vendor("SystemState-v2"))

    api.route("system_state", "/system_state", GET=(get, Operation(
        "whether the cluster takes writes", response=SYSTEM_STATE, tag="api",
        media=vendor("SystemState-v2"))))


EXTENSIONS: tuple[Callable[[RestApi], None], ...] = (state_tables, hosts, system_state)
