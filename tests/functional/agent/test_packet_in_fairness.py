"""A saturated agent sheds by ingress: VMs flooding new flows do not take the
turns of another VM on the same host (the lab: ``tools/lab/packet_in_flood.py``).

The switch's packet-in limit is off here, so nothing but the agent decides
what goes, and its inbox is short, so it sheds as soon as it falls behind.
"""
import pytest

from tools.lab import packet_in_flood

pytestmark = pytest.mark.functional


@pytest.fixture
def lab(make_cloud):
    return packet_in_flood.build(make_cloud(2, agent_extra={
        "agent": {"packet_in_rate_limit": "0", "packet_in_backlog": "32"}}))


def test_a_flooding_vm_does_not_take_another_vms_turns(lab):
    got = packet_in_flood.run(lab)
    print(f"\n{got}")
    hv1 = lab.cloud.hosts[0]
    assert got["packet_ins_shed"] > 0.1 * got["flood_frames"], \
        f"the agent was not saturated, the test proves nothing: {got}"
    assert got["light_delivered_ratio"] >= 0.95, got
    # the operator is told who is shed, and it is A
    warnings = [line for line in hv1.agent.log().splitlines() if "agent saturated" in line]
    assert warnings and all("vm-c" not in line for line in warnings), warnings
    assert all("vm-a" in line for line in warnings), warnings
    assert hv1.agent.alive()
