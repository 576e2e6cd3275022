"""Concurrent writers through the real process: If-Match makes exactly one
of twenty racing PUTs win; without it every PUT applies on a fresh read; no
concurrent membership addition is lost."""
from __future__ import annotations

import collections
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Network
from midonet_ryu.topology.rules import PortGroup
from tests.functional.api.api_client import ApiClient

N = 20


def _race(admin: ApiClient, calls: list[tuple[str, str, dict[str, Any], dict[str, str]]]
          ) -> list[requests.Response]:
    """Each call on its own client and thread, released together."""
    clients = [admin.clone() for _ in calls]
    start = threading.Barrier(len(calls))

    def run(i: int) -> requests.Response:
        method, path, body, headers = calls[i]
        start.wait()
        return clients[i].request(method, path, **_json(body, headers))

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, range(len(calls))))


def _json(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    import json

    return {"data": json.dumps(body), "headers": {"Content-Type": "application/json",
                                                  **headers}}


def test_if_match_one_winner(admin: ApiClient, nsdb: Store):
    bridge = admin.create("/bridges", {"name": "race"})
    got = admin.get(bridge["uri"])
    etag = got.headers["ETag"]
    answers = _race(admin, [("PUT", bridge["uri"], dict(got.json(), name=f"writer-{i}"),
                             {"If-Match": etag}) for i in range(N)])
    codes = collections.Counter(a.status_code for a in answers)
    assert codes == {200: 1, 409: N - 1}, codes
    winner = next(a.json() for a in answers if a.status_code == 200)
    stored = nsdb.get(Network, uuid.UUID(bridge["id"]))
    assert stored.name == winner["name"]
    assert admin.read(bridge["uri"]) == winner
    # the winner's ETag is the stored version: the next conditional write works
    winner_etag = next(a.headers["ETag"] for a in answers if a.status_code == 200)
    _, version = nsdb.get_with_version(Network, stored.id)
    assert winner_etag == f'"{version}"'
    for loser in (a for a in answers if a.status_code == 409):
        assert loser.json()["code"] == 409


def test_unconditional_puts_all_apply(admin: ApiClient, nsdb: Store):
    bridge = admin.create("/bridges", {"name": "free-for-all"})
    bodies = [{"name": f"writer-{i}", "adminStateUp": i % 2 == 0} for i in range(N)]
    answers = _race(admin, [("PUT", bridge["uri"], b, {}) for b in bodies])
    assert [a.status_code for a in answers] == [200] * N, [
        (a.status_code, a.text[:200]) for a in answers if a.status_code != 200]
    # each answer is the object its own write made
    for body, answer in zip(bodies, answers, strict=True):
        assert (answer.json()["name"], answer.json()["adminStateUp"]) == (
            body["name"], body["adminStateUp"])
    final = admin.read(bridge["uri"])
    assert {"name": final["name"], "adminStateUp": final["adminStateUp"]} in bodies
    stored = nsdb.get(Network, uuid.UUID(bridge["id"]))
    assert (stored.name, stored.admin_state_up) == (final["name"], final["adminStateUp"])
    _, version = nsdb.get_with_version(Network, stored.id)
    assert version == N  # every one of them was written, none lost or merged


def test_concurrent_port_group_additions_none_lost(admin: ApiClient, nsdb: Store):
    bridge = admin.create("/bridges", {})
    pg = admin.create("/port_groups", {"name": "crowd"})
    ports = [admin.create(f"{bridge['uri']}/ports", {})["id"] for _ in range(N)]
    answers = _race(admin, [("POST", f"{pg['uri']}/ports", {"portId": p}, {})
                            for p in ports])
    assert [a.status_code for a in answers] == [201] * N, [
        (a.status_code, a.text[:200]) for a in answers if a.status_code != 201]
    stored = nsdb.get(PortGroup, uuid.UUID(pg["id"]))
    assert sorted(map(str, stored.port_ids)) == sorted(ports)
    assert sorted(m["portId"] for m in admin.read(f"{pg['uri']}/ports")) == sorted(ports)
    # and each port knows its group
    for p in ports[:3]:
        assert admin.read(f"/ports/{p}")["portGroupIds"] == [pg["id"]]


def test_concurrent_creates_under_one_parent(admin: ApiClient, nsdb: Store):
    """Twenty ports created at once on one bridge (each write also updates the
    bridge's port list): all created, all listed."""
    bridge = admin.create("/bridges", {})
    answers = _race(admin, [("POST", f"{bridge['uri']}/ports", {"name": f"p{i}"}, {})
                            for i in range(N)])
    assert [a.status_code for a in answers] == [201] * N, [
        (a.status_code, a.text[:200]) for a in answers if a.status_code != 201]
    made = sorted(a.json()["id"] for a in answers)
    assert sorted(map(str, nsdb.get(Network, uuid.UUID(bridge["id"])).port_ids)) == made
    assert sorted(p["id"] for p in admin.read(f"{bridge['uri']}/ports")) == made
