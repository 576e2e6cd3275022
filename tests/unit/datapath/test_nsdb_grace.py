"""What the agent reports about its ZooKeeper connection over an outage."""
from midonet_ryu.datapath.nsdb_grace import CANNOT, CONNECTED, DEGRADED, RECONNECTING, NsdbGrace


def test_reconnecting_within_the_grace_time_then_degraded_then_connected():
    g = NsdbGrace(30.0, now=0.0)
    assert g.state(5.0) == CONNECTED and g.disconnected_for(5.0) == 0.0
    g.changed(False, 100.0)  # SUSPENDED
    g.changed(False, 110.0)  # then LOST: the outage still began at 100
    report = g.report(120.0)
    assert report["state"] == RECONNECTING and report["since"] == 100.0
    assert report["disconnected_for_s"] == 20.0 and report["cannot"] == list(CANNOT)
    assert not g.newly_degraded(129.9)
    assert g.newly_degraded(130.0) and not g.newly_degraded(131.0)  # logged once
    report = g.report(140.0)
    assert report["state"] == DEGRADED and report["since"] == 130.0
    assert report["disconnected_since"] == 100.0
    g.changed(True, 150.0)
    report = g.report(151.0)
    assert report == {"state": CONNECTED, "since": 150.0, "grace_time_s": 30.0}


def test_a_zero_grace_time_degrades_at_once_and_each_outage_is_logged():
    g = NsdbGrace(0.0, now=0.0)
    g.changed(False, 1.0)
    assert g.state(1.0) == DEGRADED and g.newly_degraded(1.0)
    g.changed(True, 2.0)
    g.changed(False, 3.0)
    assert g.newly_degraded(3.0)
