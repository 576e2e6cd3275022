"""Fuzzing every write endpoint of the real process with bad bodies
(hypothesis): malformed JSON, bodies that are not objects, wrong types,
unknown fields, 100 kB strings, invalid UUIDs, MACs, addresses and CIDRs,
host bits, out-of-range numbers. Each is answered 4xx (never 5xx: the client
fails those, and every answer is held against the OpenAPI document), the
process stays up, and the NSDB's models are exactly as before the request.

Endpoints come from the resource table and the relations; a test checks
that they are every write the document lists (the trace endpoints aside).
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import string
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midonet_ryu.api.resources import RESOURCES
from tests.functional.api.api_client import ApiClient, models_snapshot
from tests.functional.api.conftest import Agent

BASE = "/midonet-api"
EXAMPLES = 2  # per endpoint and kind of bad body: the module stays well under 90 s
HUGE = 100_000  # characters: within the default 1 MiB body limit
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@dataclasses.dataclass(frozen=True)
class Endpoint:
    method: str
    template: str  # under the API root, {id}/{pid} to fill
    owner: str | None = None  # the fixture object whose id fills the template

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _endpoints() -> list[Endpoint]:
    out = []
    for res in RESOURCES:
        for parent in res.parents:
            out.append(Endpoint("POST", f"/{parent.collection}/{{pid}}/{res.collection}",
                                parent.collection))
        if res.top_level:
            if res.creatable:
                out.append(Endpoint("POST", f"/{res.collection}"))
            out.append(Endpoint("PUT", f"/{res.collection}/{{id}}", res.collection))
    out += [Endpoint("POST", "/hosts/{id}/ports", "hosts"),
            Endpoint("POST", "/tunnel_zones/{id}/hosts", "tunnel_zones"),
            Endpoint("POST", "/port_groups/{id}/ports", "port_groups"),
            Endpoint("POST", "/ip_addr_groups/{id}/ip_addrs", "ip_addr_groups"),
            Endpoint("POST", "/ports/{id}/link", "ports")]
    return out


ENDPOINTS = _endpoints()
# The trace engine's own endpoints are not generic CRUD (their module tests
# them); the Neutron endpoints take Neutron's dicts (test_neutron_fuzz)
NOT_HERE = ("/traces/simulate", "/neutron/sync", "/neutron/{collection}/{id}")


@pytest.fixture(scope="module")
def world(admin: ApiClient, zk_server, paths):
    """One object of each kind for the templates, and valid base bodies."""
    hv = Agent(zk_server.hosts, paths, "hv-fuzz")
    bridge = admin.create("/bridges", {})
    router = admin.create("/routers", {})
    chain = admin.create("/chains", {})
    lb = admin.create("/load_balancers", {"routerId": router["id"]})
    pool = admin.create(f"{lb['uri']}/pools", {})
    port = admin.create(f"{bridge['uri']}/ports", {})
    peer = admin.create(f"{router['uri']}/ports", {})
    objs = {
        "bridges": bridge, "routers": router, "chains": chain, "load_balancers": lb,
        "pools": pool, "ports": port, "hosts": admin.read(f"/hosts/{hv.id}"),
        "rules": admin.create(f"{chain['uri']}/rules", {"type": "accept"}),
        "routes": admin.create(f"{router['uri']}/routes", {}),
        "port_groups": admin.create("/port_groups", {}),
        "ip_addr_groups": admin.create("/ip_addr_groups", {}),
        "tunnel_zones": admin.create("/tunnel_zones", {}),
        "pool_members": admin.create(f"{pool['uri']}/pool_members", {}),
        "vips": admin.create(f"{pool['uri']}/vips", {}),
        "health_monitors": admin.create("/health_monitors", {}),
        "traces": admin.create("/traces", {}),
        "dhcp": admin.create(f"{bridge['uri']}/dhcp", {}),
    }
    bodies = {
        "POST /ports": {"type": "Bridge", "deviceId": bridge["id"]},
        "POST /hosts/{id}/ports": {"portId": port["id"], "interfaceName": "tap-fuzz"},
        "POST /tunnel_zones/{id}/hosts": {"hostId": str(hv.id), "ipAddress": "10.9.9.9"},
        "POST /port_groups/{id}/ports": {"portId": port["id"]},
        "POST /ip_addr_groups/{id}/ip_addrs": {"addr": "10.9.9.9"},
        "POST /ports/{id}/link": {"peerId": peer["id"]},
    }
    yield objs, bodies
    hv.stop()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        node: Any = doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node
    return schema


def _request_schema(doc: dict[str, Any], ep: Endpoint) -> dict[str, Any]:
    op = doc["paths"][BASE + ep.template][ep.method.lower()]
    return _resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])


def test_endpoints_are_every_documented_write(checker):
    documented = {f"{m.upper()} {p[len(BASE):]}" for p, item in checker.doc["paths"].items()
                  for m, op in item.items() if m in ("post", "put") and "requestBody" in op
                  and not any(p.endswith(x) for x in NOT_HERE) and not p.endswith("/login")}
    assert {str(e) for e in ENDPOINTS} == documented


# --- what is valid, decided here (not by the code under test) ---------------------

_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{12}")


def _valid(fmt: str, value: str) -> bool:
    try:
        if fmt == "uuid":
            return bool(_UUID.fullmatch(value))
        if fmt == "mac":
            return bool(_MAC.fullmatch(value))
        if fmt == "ipv4":
            ipaddress.IPv4Address(value)
        elif fmt == "ip":
            ipaddress.ip_address(value)
        elif fmt == "cidr":
            address, _, length = value.partition("/")
            ipaddress.IPv4Network(f"{address}/{length}", strict=True)
            return length.isdigit() and str(int(length)) == length
        return True
    except ValueError:
        return False


TRICKY = {
    "uuid": ["", "1234", "g" * 32, str(uuid.UUID(int=1)) + "\n", "{" + str(uuid.UUID(int=2)) +
             "}", "urn:uuid:" + str(uuid.UUID(int=3)), str(uuid.UUID(int=4))[:-1] + "-"],
    "mac": ["", "02:00:00:00:00", "02:00:00:00:00:01\n", "02-00-00-00-00-01", "0200.0000.0001",
            "02:00:00:00:00:001", "gg:00:00:00:00:01", " 02:00:00:00:00:01"],
    "ipv4": ["", "10.0.0", "10.0.0.256", "10.0.0.01", "10.0.0.1\n", "::1", "10.0.0.1/32",
             " 10.0.0.1", "1e1.0.0.1"],
    "ip": ["", "10.0.0.256", "fe80::1::1", "10.0.0.1/8", "10.0.0.1\n", "gggg::1"],
    "cidr": ["", "10.0.0.1/24", "10.0.0.0/33", "10.0.0.0", "10.0.0.0/24\n", "10.0.0.0/-1",
             "10.0.0.0/24/1", "::/0", "10.0.0.0/ 24"],
}


def _invalid(fmt: str) -> st.SearchStrategy[str]:
    octet = st.integers(0, 999).map(str)
    generated = {
        "uuid": st.text(string.hexdigits + "-{}:xg\n ", max_size=40),
        "mac": st.text(string.hexdigits + ":-. \n", max_size=20),
        "ipv4": st.tuples(octet, octet, octet, octet).map(".".join) | st.text(max_size=16),
        "ip": st.text(string.hexdigits + ":.%/ ", max_size=30),
        "cidr": st.tuples(st.tuples(octet, octet, octet, octet).map(".".join),
                          st.integers(-1, 40)).map(lambda t: f"{t[0]}/{t[1]}"),
    }[fmt]
    return (st.sampled_from(TRICKY[fmt]) | generated).filter(lambda v: not _valid(fmt, v))


# --- mutations of a valid body -----------------------------------------------------

JSON_TYPES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=12),
    "integer": st.integers(-(2**70), 2**70),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: not float(f).is_integer()),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(st.integers(), max_size=3),
    "object": st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
}


def _types(schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a schema allows; None when it allows any."""
    if "anyOf" in schema:
        found: set[str] = set()
        for sub in schema["anyOf"]:
            sub_types = _types(sub)
            if sub_types is None:
                return None
            found |= sub_types
        return found
    t = schema.get("type")
    if t is None:
        return None
    types = {t} if isinstance(t, str) else set(t)
    if "number" in types:
        types.add("integer")
    return types


def _subschemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [schema, *schema.get("anyOf", [])]


def _fmt(schema: dict[str, Any]) -> tuple[str, bool] | None:
    """(format, inside an array) of a field holding a checked format."""
    for sub in _subschemas(schema):
        if sub.get("format") in TRICKY:
            return sub["format"], False
        items = sub.get("items")
        if isinstance(items, dict) and items.get("format") in TRICKY:
            return items["format"], True
    return None


def _bounded(schema: dict[str, Any]) -> dict[str, Any] | None:
    for sub in _subschemas(schema):
        if sub.get("type") in ("integer", ["integer", "null"]) and (
                "minimum" in sub or "maximum" in sub):
            return sub
    return None


def _strings(schema: dict[str, Any]) -> bool:
    types = _types(schema)
    return types is not None and "string" in types


CIDR_PAIRS = [("networkAddress", "networkLength"), ("nwSrcAddress", "nwSrcLength"),
              ("nwDstAddress", "nwDstLength"), ("srcNetworkAddr", "srcNetworkLength"),
              ("dstNetworkAddr", "dstNetworkLength")]


def kinds_of(schema: dict[str, Any]) -> list[str]:
    """The kinds of bad body that apply to an endpoint taking ``schema``."""
    props = schema.get("properties", {})
    writable = {k: s for k, s in props.items() if not s.get("readOnly")}
    kinds = ["malformed", "not an object", "unknown field"]
    if any(_types(s) is not None for s in props.values()):
        kinds.append("wrong type")
    if any(_strings(s) for s in writable.values()):
        kinds.append("huge string")
    if any(_fmt(s) for s in writable.values()):
        kinds.append("bad format")
    if any(_bounded(s) for s in writable.values()):
        kinds.append("out of range")
    if any(p[0] in writable and p[1] in writable for p in CIDR_PAIRS):
        kinds.append("host bits")
    return kinds


@st.composite
def bad_request(draw, schema: dict[str, Any], base: dict[str, Any], kind: str
                ) -> tuple[str, bytes]:
    """(what it is, body bytes) of a body of ``kind`` the endpoint must refuse."""
    props = schema.get("properties", {})
    writable = {k: s for k, s in props.items() if not s.get("readOnly")}
    typed = sorted(k for k, s in props.items() if _types(s) is not None)
    huge = sorted(k for k, s in writable.items() if _strings(s))
    formats = sorted(k for k, s in writable.items() if _fmt(s))
    ranged = sorted(k for k, s in writable.items() if _bounded(s))
    pairs = [p for p in CIDR_PAIRS if p[0] in writable and p[1] in writable]
    body = dict(base)
    if kind == "malformed":
        text = json.dumps(dict(base, name="x"))
        cut = draw(st.integers(1, len(text) - 1))
        junk = draw(st.sampled_from(["", "}", ",", "]", "'", "\x00", "{{", "\ufeff", "nul"]))
        raw = (text[:cut] + junk).encode()
        if draw(st.booleans()):
            raw = draw(st.binary(min_size=1, max_size=64))
        try:
            json.loads(raw)
            raw = b"{" + raw  # valid by chance: make it not
        except (ValueError, UnicodeDecodeError):
            pass
        return kind, raw
    if kind == "not an object":
        value = draw(st.sampled_from(["null", "[]", "[{}]", '"{}"', "0", "true", "1.5"]))
        return kind, value.encode()
    if kind == "unknown field":
        name = draw(st.text(string.ascii_letters + "_", min_size=1, max_size=12).filter(
            lambda n: n not in props))
        body[name] = draw(st.sampled_from([1, "x", None, [], {}]))
        return f"{kind} {name}", json.dumps(body).encode()
    if kind == "wrong type":
        field = draw(st.sampled_from(sorted(typed)))
        allowed = _types(props[field]) or set()
        wrong = draw(st.sampled_from(sorted(set(JSON_TYPES) - allowed)))
        body[field] = draw(JSON_TYPES[wrong])
        return f"{kind} {field}={wrong}", json.dumps(body).encode()
    if kind == "huge string":
        field = draw(st.sampled_from(huge))
        body[field] = draw(st.sampled_from(string.ascii_letters)) * HUGE
        return f"{kind} {field}", json.dumps(body).encode()
    if kind == "bad format":
        field = draw(st.sampled_from(formats))
        fmt, in_array = _fmt(writable[field])  # type: ignore[misc]
        value = draw(_invalid(fmt))
        body[field] = [value] if in_array else value
        return f"{kind} {field}={value!r}", json.dumps(body).encode()
    if kind == "out of range":
        field = draw(st.sampled_from(ranged))
        bounds = _bounded(writable[field]) or {}
        outside = []
        if "minimum" in bounds:
            outside.append(st.integers(bounds["minimum"] - 10**6, bounds["minimum"] - 1))
        if "maximum" in bounds:
            outside.append(st.integers(bounds["maximum"] + 1, bounds["maximum"] + 10**6))
        body[field] = draw(st.one_of(outside))
        return f"{kind} {field}={body[field]}", json.dumps(body).encode()
    addr, plen = draw(st.sampled_from(pairs))
    length = draw(st.integers(0, 31))
    net = int(draw(st.integers(0, 2**32 - 1)))
    host_bits = draw(st.integers(1, 2 ** (32 - length) - 1))
    value = (net & ~(2 ** (32 - length) - 1) & 0xFFFFFFFF) | host_bits
    body[addr], body[plen] = str(ipaddress.IPv4Address(value)), length
    return f"{kind} {body[addr]}/{length}", json.dumps(body).encode()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_bad_bodies_are_refused_and_change_nothing(endpoint: Endpoint, admin: ApiClient,
                                                   world, checker, cluster, nsdb_zk):
    objs, bodies = world
    path = _path(endpoint, objs)
    schema = _request_schema(checker.doc, endpoint)
    base = bodies.get(str(endpoint), {})
    # every request must be refused, so the NSDB stays as it is now throughout
    before = models_snapshot(nsdb_zk, cluster.root)

    def refuse(case: tuple[str, bytes]) -> None:
        what, raw = case
        resp = admin.request(endpoint.method, path, data=raw,
                             headers={"Content-Type": "application/json"})
        assert 400 <= resp.status_code < 500, (what, resp.status_code, resp.text[:300])
        assert models_snapshot(nsdb_zk, cluster.root) == before, what
        assert cluster.proc.poll() is None, cluster.tail()

    for kind in kinds_of(schema):  # every kind, for every endpoint
        SETTINGS(given(bad_request(schema, base, kind))(refuse))()
    # the endpoint still answers a good request
    if endpoint.method == "PUT":
        assert admin.get(path).status_code == 200


def _path(endpoint: Endpoint, objs: dict[str, dict]) -> str:
    if endpoint.owner is None:
        return endpoint.template
    oid = objs[endpoint.owner]["id"]
    return endpoint.template.replace("{id}", oid).replace("{pid}", oid)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.method == "POST"], ids=str)
def test_tricky_format_values_are_refused(endpoint: Endpoint, admin: ApiClient, world,
                                          checker, cluster, nsdb_zk):
    """Every tricky value of each format (a trailing newline, a zone, leading
    zeros, braces...) in a field of that format, one request each."""
    objs, bodies = world
    path = _path(endpoint, objs)
    schema = _request_schema(checker.doc, endpoint)
    base = bodies.get(str(endpoint), {})
    by_format: dict[str, list[tuple[str, bool]]] = {}
    for name, sub in sorted(schema.get("properties", {}).items()):
        found = None if sub.get("readOnly") else _fmt(sub)
        if found:
            by_format.setdefault(found[0], []).append((name, found[1]))
    if not by_format:
        pytest.skip("no formatted field")
    before = models_snapshot(nsdb_zk, cluster.root)
    accepted = []
    for fmt, fields in sorted(by_format.items()):
        for i, value in enumerate(TRICKY[fmt]):
            field, in_array = fields[i % len(fields)]
            body = dict(base, **{field: [value] if in_array else value})
            resp = admin.request("POST", path, data=json.dumps(body),
                                 headers={"Content-Type": "application/json"})
            if resp.status_code != 400:
                accepted.append((field, value, resp.status_code))
    assert accepted == []
    assert models_snapshot(nsdb_zk, cluster.root) == before
