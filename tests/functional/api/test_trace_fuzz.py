"""Malformed "what if" trace requests against a real cluster: every answer is a
200 (a packet the engine could trace) or a 400 naming a field, the process
lives, and nothing in the NSDB changes."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midonet_ryu.simulation.trace import MODES
from tests.functional.api.api_client import ApiClient, models_snapshot

pytestmark = pytest.mark.functional

FIELDS = ("port", "srcMac", "dstMac", "ethertype", "vlan", "srcIp", "dstIp", "proto",
          "srcPort", "dstPort", "icmpType", "icmpCode", "ttl", "mode")
_junk = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(),
                  st.text(max_size=40), st.lists(st.integers(), max_size=3),
                  st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
                  st.sampled_from(["tcp", "udp", "icmp", "arp", "ipv4", "02:00:00:00:00:01",
                                   "ff:ff:ff:ff:ff:ff", "198.51.100.1", "0.0.0.0",
                                   "256.1.1.1", "1.2.3", "00000000-0000-0000-0000-000000000000",
                                   *MODES]))


@pytest.fixture(scope="module")
def port(admin: ApiClient) -> dict:
    bridge = admin.create("/bridges", {"name": "fuzzed"})
    return admin.create(bridge["ports"], {"name": "p"})


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(body=st.dictionaries(st.sampled_from(FIELDS + ("bogus",)), _junk, max_size=8),
       use_port=st.booleans())
def test_only_200_or_400_and_nothing_changes(admin: ApiClient, cluster, nsdb_zk, port,
                                             body, use_port):
    if use_port:
        body = dict(body, port=port["id"])
    before = models_snapshot(nsdb_zk, cluster.root)
    resp = admin.post("/traces/simulate", body)
    assert resp.status_code in (200, 400), (resp.status_code, resp.text)
    if resp.status_code == 400:
        assert resp.json()["message"]
    assert models_snapshot(nsdb_zk, cluster.root) == before
    assert cluster.proc.poll() is None
