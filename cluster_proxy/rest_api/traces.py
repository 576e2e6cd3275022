"""Tracing through the API: "what if" simulations and live trace records.

``POST <base>/traces/simulate`` runs a described packet through the real
simulation engine against the topology as the NSDB holds it now and the
state tables the agents share (MAC, IP-MAC, ARP), and answers each step
(:mod:`midonet_ryu.simulation.trace`). Conntrack and NAT state live in the
agents, so a "what if" packet is always a connection's first one.

``GET <base>/traces/{id}/flows`` reads back what agents recorded for a trace
request (MidoNet recorded live traces into Cassandra and gave no way to read
them back); deleting the request deletes its records.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import webob
from kazoo.exceptions import NoNodeError, NotEmptyError

from cluster_proxy.rest_api.app import RestApi
from cluster_proxy.rest_api.errors import bad_request
from cluster_proxy.rest_api.negotiation import vendor
from cluster_proxy.rest_api.ownership import caller_of
from midonet_ryu.api.openapi import Operation
from midonet_ryu.api.resources import BY_COLLECTION
from midonet_ryu.nsdb.trace_state import NsdbTraceState
from midonet_ryu.simulation import trace as tracing
from midonet_ryu.topology import base
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.snapshot import TopologySnapshot
from midonet_ryu.topology.trace import TraceRequest

LOG = logging.getLogger(__name__)

_STEP = {"type": "object", "required": ["kind", "text"], "properties": {
    "kind": {"type": "string"}, "text": {"type": "string"},
    "deviceId": {"type": ["string", "null"]}, "deviceType": {"type": ["string", "null"]},
    "deviceName": {"type": ["string", "null"]}, "portId": {"type": ["string", "null"]},
    "portName": {"type": ["string", "null"]}, "detail": {"type": "object"}}}
TRACE_RESULT = {"type": "object", "required": ["mode", "result", "egressPorts"], "properties": {
    "mode": {"type": "string", "enum": list(tracing.MODES)},
    "result": {"type": "string", "enum": ["forward", "drop", "consumed", "error"]},
    "reason": {"type": ["string", "null"]},
    "steps": {"type": "array", "items": _STEP},
    "lines": {"type": "array", "items": {"type": "string"}},
    "egressPorts": {"type": "array", "items": {"type": "string"}},
    "match": {"type": ["object", "null"]},
    "actions": {"type": "array", "items": {"type": "object"}},
    "packet": {"type": "object"}}}
SIMULATE_REQUEST = {"type": "object", "required": ["port"], "properties": {
    "port": {"type": "string", "format": "uuid"},
    "mode": {"type": "string", "enum": list(tracing.MODES)},
    **{name: {} for name in tracing._FIELDS if name != "port"}}}
FLOW_RECORD = {"type": "object", "properties": {
    "uri": {"type": "string"}, "traceRequestId": {"type": "string"},
    "hostId": {"type": "string"}, "timestamp": {"type": "number"},
    "result": {"type": "string"}, "reason": {"type": ["string", "null"]},
    "lines": {"type": "array", "items": {"type": "string"}},
    "steps": {"type": "array", "items": _STEP},
    "match": {"type": ["object", "null"]}}}


def live_topology(api: RestApi) -> TopologySnapshot:
    """Every topology object now, read with pipelined requests (a trace must see
    what the agents will see once their watches fire)."""
    snapshot = TopologySnapshot()
    for cls in base.model_classes().values():
        for obj in api.reads.list_all(cls):
            snapshot.put(obj)
    return snapshot


def traces(api: RestApi) -> None:
    zk, paths = api.store.client, api.paths
    ports = BY_COLLECTION["ports"]
    trace_res = BY_COLLECTION["traces"]

    def simulate(req: webob.Request) -> webob.Response:
        body = api.body(req, vendor("TraceSimulation-v1"))
        if not isinstance(body, dict):
            raise bad_request("the body must be a JSON object")
        body = dict(body)
        mode = body.pop("mode", "detailed")
        if mode not in tracing.MODES:
            raise bad_request(f"mode: {mode!r} is not one of {', '.join(tracing.MODES)}",
                              "mode")
        try:
            desc = tracing.PacketDescription.from_json(body)
        except tracing.TraceRequestError as e:
            raise bad_request(str(e), e.field) from None
        port = api.reads.find(Port, desc.port)
        if port is None:
            raise bad_request(f"port: port {desc.port} does not exist", "port")
        api.ownership.check(caller_of(req), ports, port)
        topology = live_topology(api)
        trace = tracing.trace_packet(desc, topology, NsdbTraceState(zk, paths), time.time())
        out = tracing.to_json(trace, mode)
        out["packet"] = desc.to_json()
        return api.respond(req, out, vendor("TraceSimulation-v1"))

    def request(req: webob.Request, id: str) -> TraceRequest:
        found: TraceRequest = api.owned(req, trace_res, id)
        return found

    def flows(req: webob.Request, id: str) -> webob.Response:
        tr = request(req, id)
        root = paths.trace_flows(tr.id)
        try:
            children = sorted(zk.retry(zk.get_children, root))
        except NoNodeError:
            children = []
        pending = [(name, zk.get_async(f"{root}/{name}")) for name in children[:tr.limit]]
        out = []
        base_uri = f"{api.base_uri(req)}/traces/{tr.id}/flows"
        for name, result in pending:
            try:
                data, _ = result.get()
                record = json.loads(data)
            except NoNodeError:
                continue
            except ValueError:
                LOG.warning("trace record %s/%s is not JSON", root, name)
                continue
            if isinstance(record, dict):
                out.append(dict(record, uri=f"{base_uri}/{name}", traceRequestId=str(tr.id)))
        return api.respond(req, out, vendor("collection.TraceFlow-v1"))

    def forget(trace_id: uuid.UUID) -> None:
        try:
            zk.retry(zk.delete, paths.trace_flows(trace_id), recursive=True)
        except (NoNodeError, NotEmptyError):
            pass  # a record written as we deleted: an agent's next check drops it

    def stamp(tx: Any, obj: Any, body: dict[str, Any]) -> None:
        tx.update(obj.replace(creation_timestamp_ms=int(time.time() * 1000)))

    api.after_delete["traces"] = forget
    api.after_create["traces"] = stamp
    api.route("trace_simulate", "/traces/simulate", POST=(simulate, Operation(
        "simulate a described packet through the live topology", SIMULATE_REQUEST,
        TRACE_RESULT, tag="tracing", media=vendor("TraceSimulation-v1"))))
    api.route("trace_flows", "/traces/{id}/flows", GET=(flows, Operation(
        "the simulations agents recorded for the trace request",
        response={"type": "array", "items": FLOW_RECORD}, tag="tracing",
        media=vendor("collection.TraceFlow-v1"))))


EXTENSIONS: tuple[Callable[[RestApi], None], ...] = (traces,)
