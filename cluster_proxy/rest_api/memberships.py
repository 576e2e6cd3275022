"""Sub-resources that are relations rather than objects: port bindings
(``hosts/{id}/ports``, as ``mm-ctl --bind-port``), tunnel zone membership,
port group members (Ingress Sets), IP address group addresses and port links.

Each write reads the objects on both ends and writes them in one
version-checked transaction, retried on a fresh read when another writer got
there first, so twenty concurrent additions all land and none is lost.
"""
from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from typing import Any

import webob

from cluster_proxy.rest_api.app import RestApi
from cluster_proxy.rest_api.errors import ApiError, bad_request, conflict, not_found
from cluster_proxy.rest_api.negotiation import vendor
from cluster_proxy.rest_api.ownership import caller_of
from midonet_ryu.api import schemas
from midonet_ryu.api.openapi import Operation
from midonet_ryu.api.resources import BY_COLLECTION
from midonet_ryu.nsdb.store import Transaction
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.model import Host, HostToIp, Port, TunnelZone
from midonet_ryu.topology.rules import IPAddrGroup, IPAddrPorts, PortGroup

_UUID = {"type": "string", "format": "uuid", "pattern": schemas.UUID_PATTERN}


def _relation_schema(required: dict[str, Any], read_only: tuple[str, ...]) -> dict[str, Any]:
    props: dict[str, Any] = {"uri": {"type": "string", "readOnly": True}}
    props.update({k: dict(v) for k, v in required.items()})
    for name in read_only:
        props.setdefault(name, {"type": ["string", "null"]})
        props[name] = dict(props[name], readOnly=True)
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False}


BINDING = _relation_schema(
    {"portId": _UUID, "interfaceName": {"type": "string", "minLength": 1, "maxLength": 255}},
    ("hostId", "host", "port"))
TZ_HOST = _relation_schema({"hostId": _UUID, "ipAddress": {
    "type": "string", "format": "ipv4", "maxLength": 64}}, ("tunnelZoneId", "tunnelZone", "host"))
PG_PORT = _relation_schema({"portId": _UUID}, ("portGroupId", "portGroup", "port"))
IP_ADDR = _relation_schema({"addr": {"type": "string", "format": "ip", "maxLength": 64}},
                           ("ipAddrGroupId", "ipAddrGroup"))
IP_ADDR["properties"]["version"] = {"type": "integer", "enum": [4, 6]}
LINK = _relation_schema({"peerId": _UUID}, ("portId", "port", "peer"))

_VALIDATORS = {id(s): schemas.validator(s) for s in (BINDING, TZ_HOST, PG_PORT, IP_ADDR, LINK)}


def _checked(api: RestApi, req: webob.Request, schema: dict[str, Any],
             media: str) -> dict[str, Any]:
    body = api.body(req, vendor(media))
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    found = schemas.first_error(_VALIDATORS[id(schema)], body)
    if found is not None:
        raise bad_request(found[1], found[0])
    return body


def _admin_only(req: webob.Request, what: str) -> None:
    if not caller_of(req).is_admin:
        raise ApiError(403, f"{what} are managed by administrators")


def _find(tx: Transaction, cls: type[ModelObject], obj_id: uuid.UUID, what: str,
          status: int = 404) -> Any:
    obj = tx.find(cls, obj_id)
    if obj is None:
        raise ApiError(status, f"{what} {obj_id} does not exist")
    return obj


# --- port bindings ------------------------------------------------------------------

BINDING_MEDIA = "HostInterfacePort-v1"


def _binding_json(base: str, host_id: uuid.UUID, port: Port) -> dict[str, Any]:
    return {"uri": f"{base}/hosts/{host_id}/ports/{port.id}", "hostId": str(host_id),
            "portId": str(port.id), "interfaceName": port.interface_name,
            "host": f"{base}/hosts/{host_id}", "port": f"{base}/ports/{port.id}"}


def bindings(api: RestApi) -> None:
    media = vendor(BINDING_MEDIA)

    def listing(req: webob.Request, id: str) -> webob.Response:
        _admin_only(req, "bindings")
        host = api.reads.find(Host, uuid.UUID(id))
        if host is None:
            raise not_found(f"host {id} does not exist")
        ports = [p for p in (api.reads.find(Port, pid) for pid in host.port_ids) if p]
        return api.respond(req, [_binding_json(api.base_uri(req), host.id, p) for p in ports],
                           vendor("collection." + BINDING_MEDIA))

    def bind(req: webob.Request, id: str) -> webob.Response:
        _admin_only(req, "bindings")
        body = _checked(api, req, BINDING, BINDING_MEDIA)
        host_id, port_id = uuid.UUID(id), uuid.UUID(body["portId"])
        iface = body["interfaceName"]

        def write(tx: Transaction) -> Port:
            host = _find(tx, Host, host_id, "host")
            port = _find(tx, Port, port_id, "port", 400)
            if port.peer_id is not None:
                raise conflict(f"port {port_id} is linked to {port.peer_id}: interior ports "
                               "cannot be bound")
            if port.host_id is not None and (port.host_id, port.interface_name) != (
                    host_id, iface):
                raise conflict(f"port {port_id} is already bound to {port.interface_name} "
                               f"on host {port.host_id}")
            for other_id in host.port_ids:
                other = tx.find(Port, other_id)
                if other and other.id != port_id and other.interface_name == iface:
                    raise conflict(f"interface {iface} of host {host_id} is already bound "
                                   f"to port {other.id}")
            bound: Port = tx.update(port.replace(host_id=host_id, interface_name=iface))
            return bound

        port = api.write(write)
        return api.created(req, _binding_json(api.base_uri(req), host_id, port), media)

    def one(req: webob.Request, id: str, port_id: str) -> webob.Response:
        _admin_only(req, "bindings")
        port = api.reads.find(Port, _uuid(port_id, "portId"))
        if port is None or port.host_id != uuid.UUID(id):
            raise not_found(f"port {port_id} is not bound to host {id}")
        return api.respond(req, _binding_json(api.base_uri(req), port.host_id, port), media)

    def unbind(req: webob.Request, id: str, port_id: str) -> webob.Response:
        _admin_only(req, "bindings")
        host_id, pid = uuid.UUID(id), _uuid(port_id, "portId")

        def write(tx: Transaction) -> None:
            port = tx.find(Port, pid)
            if port is None or port.host_id != host_id:
                raise not_found(f"port {port_id} is not bound to host {id}")
            tx.update(port.replace(host_id=None, interface_name=None))

        api.write(write)
        return api.no_content()

    api.route("host_bindings", "/hosts/{id}/ports",
              GET=(listing, Operation("the host's port bindings", response={
                  "type": "array", "items": BINDING}, media=vendor("collection." + BINDING_MEDIA))),
              POST=(bind, Operation("bind a port to an interface of the host", BINDING,
                                    BINDING, 201, media=media)))
    api.route("host_binding", "/hosts/{id}/ports/{port_id}",
              GET=(one, Operation("one binding", response=BINDING, media=media)),
              DELETE=(unbind, Operation("unbind the port", status=204)))


# --- tunnel zone membership ---------------------------------------------------------

def tunnel_zone_hosts(api: RestApi) -> None:
    media = "TunnelZoneHost-v1"

    def member_json(base: str, tz: TunnelZone, member: HostToIp) -> dict[str, Any]:
        return {"uri": f"{base}/tunnel_zones/{tz.id}/hosts/{member.host_id}",
                "tunnelZoneId": str(tz.id), "hostId": str(member.host_id),
                "ipAddress": member.ip, "tunnelZone": f"{base}/tunnel_zones/{tz.id}",
                "host": f"{base}/hosts/{member.host_id}"}

    def listing(req: webob.Request, id: str) -> webob.Response:
        _admin_only(req, "tunnel zones")
        tz = api.reads.find(TunnelZone, uuid.UUID(id))
        if tz is None:
            raise not_found(f"tunnel zone {id} does not exist")
        return api.respond(req, [member_json(api.base_uri(req), tz, m) for m in tz.hosts],
                           vendor("collection." + media))

    def add(req: webob.Request, id: str) -> webob.Response:
        _admin_only(req, "tunnel zones")
        body = _checked(api, req, TZ_HOST, media)
        host_id = uuid.UUID(body["hostId"])
        member = HostToIp(host_id=host_id, ip=body["ipAddress"])

        def write(tx: Transaction) -> TunnelZone:
            tz = _find(tx, TunnelZone, uuid.UUID(id), "tunnel zone")
            _find(tx, Host, host_id, "host", 400)
            if any(m.host_id == host_id for m in tz.hosts):
                raise conflict(f"host {host_id} is already in tunnel zone {id}")
            joined: TunnelZone = tx.update(tz.replace(hosts=tz.hosts + (member,),
                                                      host_ids=tz.host_ids + (host_id,)))
            return joined

        tz = api.write(write)
        return api.created(req, member_json(api.base_uri(req), tz, member), vendor(media))

    def one(req: webob.Request, id: str, host_id: str) -> webob.Response:
        _admin_only(req, "tunnel zones")
        tz = api.reads.find(TunnelZone, uuid.UUID(id))
        hid = _uuid(host_id, "hostId")
        for m in tz.hosts if tz is not None else ():
            if m.host_id == hid and tz is not None:
                return api.respond(req, member_json(api.base_uri(req), tz, m), vendor(media))
        raise not_found(f"host {host_id} is not in tunnel zone {id}")

    def remove(req: webob.Request, id: str, host_id: str) -> webob.Response:
        _admin_only(req, "tunnel zones")
        hid = _uuid(host_id, "hostId")

        def write(tx: Transaction) -> None:
            tz = _find(tx, TunnelZone, uuid.UUID(id), "tunnel zone")
            if hid not in tz.host_ids and all(m.host_id != hid for m in tz.hosts):
                raise not_found(f"host {host_id} is not in tunnel zone {id}")
            tx.update(tz.replace(hosts=tuple(m for m in tz.hosts if m.host_id != hid),
                                 host_ids=tuple(h for h in tz.host_ids if h != hid)))

        api.write(write)
        return api.no_content()

    api.route("tz_hosts", "/tunnel_zones/{id}/hosts",
              GET=(listing, Operation("members and their underlay addresses", response={
                  "type": "array", "items": TZ_HOST}, tag="infrastructure",
                  media=vendor("collection." + media))),
              POST=(add, Operation("add a host at an underlay address", TZ_HOST, TZ_HOST, 201,
                                   tag="infrastructure", media=vendor(media))))
    api.route("tz_host", "/tunnel_zones/{id}/hosts/{host_id}",
              GET=(one, Operation("one member", response=TZ_HOST, tag="infrastructure",
                                  media=vendor(media))),
              DELETE=(remove, Operation("remove the host", status=204, tag="infrastructure")))


# --- port group members (Ingress Sets) ----------------------------------------------

def port_group_ports(api: RestApi) -> None:
    media = "PortGroupPort-v1"
    res = BY_COLLECTION["port_groups"]

    def member_json(base: str, group_id: uuid.UUID, port_id: uuid.UUID) -> dict[str, Any]:
        return {"uri": f"{base}/port_groups/{group_id}/ports/{port_id}",
                "portGroupId": str(group_id), "portId": str(port_id),
                "portGroup": f"{base}/port_groups/{group_id}", "port": f"{base}/ports/{port_id}"}

    def group(req: webob.Request, id: str, write: bool = False) -> PortGroup:
        found: PortGroup = api.owned(req, res, id, write)
        return found

    def listing(req: webob.Request, id: str) -> webob.Response:
        pg = group(req, id)
        base = api.base_uri(req)
        return api.respond(req, [member_json(base, pg.id, p) for p in pg.port_ids],
                           vendor("collection." + media))

    def add(req: webob.Request, id: str) -> webob.Response:
        group(req, id, write=True)
        body = _checked(api, req, PG_PORT, media)
        port_id = uuid.UUID(body["portId"])

        def write(tx: Transaction) -> None:
            pg = _find(tx, PortGroup, uuid.UUID(id), "port group")
            port = _find(tx, Port, port_id, "port", 400)
            api.ownership.check(caller_of(req), BY_COLLECTION["ports"], port, True, tx)
            if port_id in pg.port_ids:
                raise conflict(f"port {port_id} is already in port group {id}")
            tx.update(pg.replace(port_ids=pg.port_ids + (port_id,)))

        api.write(write)
        return api.created(req, member_json(api.base_uri(req), uuid.UUID(id), port_id),
                           vendor(media))

    def one(req: webob.Request, id: str, port_id: str) -> webob.Response:
        pg = group(req, id)
        pid = _uuid(port_id, "portId")
        if pid not in pg.port_ids:
            raise not_found(f"port {port_id} is not in port group {id}")
        return api.respond(req, member_json(api.base_uri(req), pg.id, pid), vendor(media))

    def remove(req: webob.Request, id: str, port_id: str) -> webob.Response:
        group(req, id, write=True)
        pid = _uuid(port_id, "portId")

        def write(tx: Transaction) -> None:
            pg = _find(tx, PortGroup, uuid.UUID(id), "port group")
            if pid not in pg.port_ids:
                raise not_found(f"port {port_id} is not in port group {id}")
            tx.update(pg.replace(port_ids=tuple(p for p in pg.port_ids if p != pid)))

        api.write(write)
        return api.no_content()

    api.route("pg_ports", "/port_groups/{id}/ports",
              GET=(listing, Operation("the group's ports", response={
                  "type": "array", "items": PG_PORT}, media=vendor("collection." + media))),
              POST=(add, Operation("add a port to the group", PG_PORT, PG_PORT, 201,
                                   media=vendor(media))))
    api.route("pg_port", "/port_groups/{id}/ports/{port_id}",
              GET=(one, Operation("one member", response=PG_PORT, media=vendor(media))),
              DELETE=(remove, Operation("remove the port from the group", status=204)))


# --- IP address group addresses -----------------------------------------------------

def ip_addr_group_addrs(api: RestApi) -> None:
    media = "IpAddrGroupAddr-v1"
    res = BY_COLLECTION["ip_addr_groups"]

    def addr_json(base: str, group_id: uuid.UUID, addr: str) -> dict[str, Any]:
        version = ipaddress.ip_address(addr).version
        return {"uri": f"{base}/ip_addr_groups/{group_id}/versions/{version}/ip_addrs/{addr}",
                "ipAddrGroupId": str(group_id), "addr": addr, "version": version,
                "ipAddrGroup": f"{base}/ip_addr_groups/{group_id}"}

    def group(req: webob.Request, id: str, write: bool = False) -> IPAddrGroup:
        found: IPAddrGroup = api.owned(req, res, id, write)
        return found

    def listing(req: webob.Request, id: str) -> webob.Response:
        g = group(req, id)
        base = api.base_uri(req)
        return api.respond(req, [addr_json(base, g.id, a.ip_address) for a in g.ip_addr_ports],
                           vendor("collection." + media))

    def add(req: webob.Request, id: str) -> webob.Response:
        group(req, id, write=True)
        body = _checked(api, req, IP_ADDR, media)
        addr = str(ipaddress.ip_address(body["addr"]))
        if "version" in body and body["version"] != ipaddress.ip_address(addr).version:
            raise bad_request(f"version: {addr} is not IPv{body['version']}", "version")

        def write(tx: Transaction) -> None:
            g = _find(tx, IPAddrGroup, uuid.UUID(id), "IP address group")
            if any(a.ip_address == addr for a in g.ip_addr_ports):
                raise conflict(f"{addr} is already in IP address group {id}")
            tx.update(g.replace(ip_addr_ports=g.ip_addr_ports + (IPAddrPorts(ip_address=addr),)))

        api.write(write)
        return api.created(req, addr_json(api.base_uri(req), uuid.UUID(id), addr), vendor(media))

    def remove(req: webob.Request, id: str, addr: str, version: str = "") -> webob.Response:
        group(req, id, write=True)
        try:
            addr = str(ipaddress.ip_address(addr))
        except ValueError:
            raise bad_request(f"{addr!r} is not an IP address", "addr") from None

        def write(tx: Transaction) -> None:
            g = _find(tx, IPAddrGroup, uuid.UUID(id), "IP address group")
            if all(a.ip_address != addr for a in g.ip_addr_ports):
                raise not_found(f"{addr} is not in IP address group {id}")
            tx.update(g.replace(ip_addr_ports=tuple(a for a in g.ip_addr_ports
                                                    if a.ip_address != addr)))

        api.write(write)
        return api.no_content()

    api.route("ipg_addrs", "/ip_addr_groups/{id}/ip_addrs",
              GET=(listing, Operation("the group's addresses", response={
                  "type": "array", "items": IP_ADDR}, media=vendor("collection." + media))),
              POST=(add, Operation("add an address", IP_ADDR, IP_ADDR, 201,
                                   media=vendor(media))))
    api.route("ipg_addr", "/ip_addr_groups/{id}/ip_addrs/{addr}",
              DELETE=(remove, Operation("remove an address", status=204)))
    api.route("ipg_addr_v", "/ip_addr_groups/{id}/versions/{version}/ip_addrs/{addr}",
              DELETE=(remove, Operation("remove an address (MidoNet's URI)", status=204)))


# --- port links ------------------------------------------------------------------------

def port_links(api: RestApi) -> None:
    ports = BY_COLLECTION["ports"]

    def link(req: webob.Request, id: str) -> webob.Response:
        body = _checked(api, req, LINK, "PortLink-v1")
        port_id, peer_id = uuid.UUID(id), uuid.UUID(body["peerId"])
        if port_id == peer_id:
            raise bad_request("peerId: a port cannot be linked to itself", "peerId")
        caller = caller_of(req)

        def write(tx: Transaction) -> None:
            port = _find(tx, Port, port_id, "port")
            peer = _find(tx, Port, peer_id, "port", 400)
            for p in (port, peer):
                api.ownership.check(caller, ports, p, True, tx)
                if p.peer_id is not None:
                    raise conflict(f"port {p.id} is already linked to {p.peer_id}")
                if p.host_id is not None:
                    raise conflict(f"port {p.id} is bound to a host: exterior ports cannot "
                                   "be linked")
            tx.update(port.replace(peer_id=peer_id))

        api.write(write)
        base = api.base_uri(req)
        payload = {"uri": f"{base}/ports/{port_id}/link", "portId": str(port_id),
                   "peerId": str(peer_id), "port": f"{base}/ports/{port_id}",
                   "peer": f"{base}/ports/{peer_id}"}
        return api.created(req, payload, vendor("PortLink-v1"))

    def unlink(req: webob.Request, id: str) -> webob.Response:
        caller = caller_of(req)

        def write(tx: Transaction) -> None:
            port = _find(tx, Port, uuid.UUID(id), "port")
            api.ownership.check(caller, ports, port, True, tx)
            if port.peer_id is None:
                raise not_found(f"port {id} is not linked")
            tx.update(port.replace(peer_id=None))

        api.write(write)
        return api.no_content()

    api.route("port_link", "/ports/{id}/link",
              POST=(link, Operation("link two ports (interior)", LINK, LINK, 201,
                                    media=vendor("PortLink-v1"))),
              DELETE=(unlink, Operation("unlink the port", status=204)))


def _uuid(raw: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise bad_request(f"{field}: {raw!r} is not a UUID", field) from None


EXTENSIONS: tuple[Callable[[RestApi], None], ...] = (
    bindings, tunnel_zone_hosts, port_group_ports, ip_addr_group_addrs, port_links)
