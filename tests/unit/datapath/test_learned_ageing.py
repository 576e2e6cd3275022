"""When learned MAC and ARP entries are handed out for removal from the NSDB."""
import ipaddress
import uuid

from midonet_ryu.datapath.learned_ageing import LearnedAgeing
from midonet_ryu.simulation.result import ArpLearned, MacLearned

NET, ROUTER = uuid.UUID(int=1), uuid.UUID(int=2)
PORT, OTHER_PORT = uuid.UUID(int=3), uuid.UUID(int=4)
MAC = MacLearned(NET, None, "02:00:00:00:00:01", PORT)
ARP = ArpLearned(ROUTER, 0x0A000001, "02:00:00:00:00:09")


def ageing(max_idle=100):
    return LearnedAgeing(mac_expiry=30.0, arp_expiry=90.0, max_idle=max_idle)


def test_a_mac_stays_while_a_flow_from_it_is_installed_and_goes_after_the_expiry():
    a = ageing()
    a.seen([MAC], cookie=11, now=0.0)
    assert a.expired(10_000.0) == []  # a flow is in place: the VM talks
    a.flows_gone([11])  # at the last time given: 10,000
    assert a.expired(10_029.0) == []
    assert a.expired(10_030.0) == [MAC]
    assert a.expired(20_000.0) == []  # handed out once
    assert not a.tracks(MAC)


def test_every_flow_from_the_mac_must_go_before_its_clock_starts():
    a = ageing()
    a.seen([MAC], 11, 0.0)
    a.seen([MAC], 12, 1.0)
    a.flows_gone([11])
    assert a.expired(100.0) == []
    a.flows_gone([12, 12])  # a flow-removed after the invalidation: no double count
    assert a.expired(129.0) == [] and a.expired(130.0) == [MAC]


def test_a_learning_without_a_flow_expires_from_the_learning_and_a_new_one_postpones_it():
    a = ageing()
    a.seen([MAC], None, 0.0)
    a.seen([MAC], None, 20.0)
    assert a.expired(49.0) == []
    assert a.expired(50.0) == [MAC]


def test_a_flow_after_an_idle_spell_takes_the_entry_off_the_clock():
    a = ageing()
    a.seen([MAC], None, 0.0)
    a.seen([MAC], 11, 5.0)
    assert a.expired(1000.0) == []
    assert a.tracks(MAC)


def test_a_mac_that_moved_ages_per_port():
    a = ageing()
    moved = MAC._replace(port_id=OTHER_PORT)
    a.seen([MAC], 11, 0.0)
    a.seen([moved], 12, 1.0)
    a.flows_gone([11])
    assert a.expired(100.0) == [MAC]  # the old port's entry, not the new one
    assert a.tracks(moved)


def test_arp_entries_expire_after_their_last_learning():
    a = ageing()
    a.seen([ARP], 11, 0.0)  # flows do not hold an ARP entry: it carries its expiry
    a.seen([ARP], None, 60.0)  # re-learned when stale
    assert a.expired(149.0) == []
    assert a.expired(150.0) == [ARP]


def test_the_switch_losing_its_flows_starts_every_clock():
    a = ageing()
    a.seen([MAC], 11, 0.0)
    a.expired(5.0)
    a.all_flows_gone()
    assert a.expired(34.0) == [] and a.expired(35.0) == [MAC]


def test_idle_entries_are_bounded_the_oldest_go_first():
    a = ageing(max_idle=2)
    macs = [MAC._replace(mac=f"02:00:00:00:01:0{i}") for i in range(3)]
    for i, m in enumerate(macs):
        a.seen([m], None, float(i))
    assert a.expired(3.0) == [macs[0]]
    assert a.counts() == {"mac_entries_in_use": 0, "mac_entries_idle": 2, "arp_entries": 0}


def test_router_arp_entries_are_written_with_the_configured_times():
    from midonet_ryu.datapath.agent_state import RouterArpView, nsdb_arp_entry

    entry = nsdb_arp_entry("02:00:00:00:00:09", 1000.0, expiry=30.0, stale=20.0)
    assert (entry.expiry, entry.stale, entry.last_arp) == (1_030_000, 1_020_000, 1_000_000)
    seen = RouterArpView({ipaddress.IPv4Address("10.0.0.1"): entry})
    assert (seen[0x0A000001].expiry, seen[0x0A000001].stale) == (1030.0, 1020.0)
