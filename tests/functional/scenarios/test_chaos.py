"""The chaos run, short (``python -m benchmarks chaos`` is the long one):
three hypervisors, a ZooKeeper ensemble, two cluster nodes, live TCP
streams through SNAT and a security group, new connections, API writes;
faults one at a time. No established connection breaks, no acknowledged
write is lost, new connections work again within 2 s of each fault being
undone, and every agent is back to full health."""
import pytest

from tools.lab.chaos import KINDS, ChaosLab
from tools.lab.netns import netns_unavailable

pytestmark = pytest.mark.functional


@pytest.fixture
def chaos():
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    lab = ChaosLab().start()
    yield lab
    lab.stop()


def test_faults_break_no_connection_and_lose_no_write(chaos):
    chaos.run(list(KINDS))  # one of each
    report = chaos.report()
    print()
    for row in report["per_fault"]:
        print(f"{row['kind']:<18} broken {row['established_broken']}  new failed "
              f"{row['new_connections_failed']}/{row['new_connections']} (late "
              f"{row['new_connections_failed_late']})  interruption "
              f"{row['max_interruption_s']:.2f} s  recovery {row['recovery_s']} s  "
              f"{'; '.join(row['notes'])}")
    assert report["faults_injected"] == len(KINDS)
    assert report["established_broken"] == 0, (report["per_fault"], report["long_lived_streams"])
    assert report["nsdb_writes_acknowledged"] > 20 and report["nsdb_writes_lost"] == 0, report
    assert report["new_connections_failed_late"] == 0, report["per_fault"]
    assert report["max_recovery_s"] is not None, report["per_fault"]
    # the streams through every fault
    assert all(s["echoed"] > 1000 and s["error"] is None
               for s in report["long_lived_streams"]), report["long_lived_streams"]
    rows = {row["kind"]: row for row in report["per_fault"]}
    # the sessions really expired (else those faults proved nothing)
    for kind, hv in (("session_expiry", "hv3"), ("zk_partition", "hv2")):
        assert any(f"{hv}'s agent lost its ZooKeeper session" in n
                   for n in rows[kind]["notes"]), rows[kind]
