"""Rule chains on a real path: reject versus drop, and rule changes taking
effect on traffic that already has flows."""
import time

import pytest

from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import Rule, RuleAction
from tools.lab.cloud import rule
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


def ping_once(vm, dst, wait=2):
    return vm.exec("ping", "-n", "-c", "1", "-W", str(wait), dst, check=False,
                   timeout=wait + 5)


def reaches(vm, dst):
    return ping_once(vm, dst, 1).returncode == 0


def set_router_filter(cloud, router, chain):
    cloud.store.update_with(Router, router.id,
                            lambda r: r.replace(inbound_filter_id=chain.id if chain else None))


def test_reject_answers_prohibited_while_drop_is_silent(routed):
    cloud, router, _, (pa, a), _ = routed
    wait_until(lambda: reaches(a, "203.0.113.1"), 10, what="A to reach B")
    chain = cloud.chain(rule(RuleAction.REJECT, nw_dst_ip="203.0.113.1/32"))
    set_router_filter(cloud, router, chain)
    out = wait_until(lambda: (lambda o: o if "filtered" in o.stdout.lower()
                              or "prohibited" in o.stdout.lower() else None)(
        ping_once(a, "203.0.113.1")), 10, what="an ICMP prohibited answer")
    assert out.returncode != 0
    # the same rule, now DROP: no answer at all
    (rule_id,) = cloud.store.get(type(chain), chain.id).rule_ids
    cloud.store.update_with(Rule, rule_id, lambda r: r.replace(action=RuleAction.DROP))
    time.sleep(0.5)
    out = ping_once(a, "203.0.113.1")
    assert out.returncode != 0
    assert "filtered" not in out.stdout.lower() and "prohibited" not in out.stdout.lower()
    assert "100% packet loss" in out.stdout


def test_rule_change_invalidates_installed_flows(routed):
    cloud, router, _, (pa, a), (pb, b) = routed
    wait_until(lambda: reaches(a, "203.0.113.1"), 10, what="A to reach B")
    hv1 = cloud.hosts[0]
    # an accepting chain: traffic flows, and its flows depend on the chain
    chain = cloud.chain(rule(RuleAction.ACCEPT, nw_dst_ip="203.0.113.0/24"))
    set_router_filter(cloud, router, chain)
    # wait until the path's flow is one simulated through the chain (an older
    # flow may serve a ping or two until the router change reaches the agent)
    wait_until(lambda: reaches(a, "203.0.113.1") and [
        f for f in hv1.agent.ctl("flows") if str(chain.id) in " ".join(f["tags"])
        and f["simulation"].startswith("FORWARD")], 10,
        what="A's flow to B through the chain")
    before = hv1.agent.ctl("counters").get("flows_invalidated", 0)
    # insert a DROP for B in front: existing flows must go, traffic must stop
    started = time.monotonic()
    blocker = cloud.store.create(rule(RuleAction.DROP, nw_dst_ip="203.0.113.1/32").replace(
        chain_id=chain.id))
    chain_now = cloud.store.get(type(chain), chain.id)
    cloud.store.update(chain_now.replace(rule_ids=(blocker.id,) + chain_now.rule_ids[:1]))
    wait_until(lambda: not reaches(a, "203.0.113.1"), 10, what="traffic to stop")
    elapsed = time.monotonic() - started
    assert hv1.agent.ctl("counters").get("flows_invalidated", 0) > before
    assert elapsed < 5, f"rule change took {elapsed:.1f}s to take effect"
    # the router itself is still reachable (the rule only names B)
    assert reaches(a, "203.0.113.254")
    # delete the rule: traffic resumes
    cloud.store.delete(Rule, blocker.id)
    wait_until(lambda: reaches(a, "203.0.113.1"), 10, what="traffic to resume")
