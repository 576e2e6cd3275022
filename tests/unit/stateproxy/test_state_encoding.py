"""Entry encoding and the conflict rule, as every state table reader applies them."""
import ipaddress
import uuid

import pytest

from midonet_ryu.nsdb import state_catalogue as catalogue
from midonet_ryu.nsdb import state_codecs as codecs
from midonet_ryu.nsdb import state_node_names as node_names
from midonet_ryu.nsdb import state_winners as winners
from midonet_ryu.nsdb.state_catalogue import ARP_TABLE, IP4_MAC_TABLE, MAC_TABLE, PEERING_TABLE
from midonet_ryu.nsdb.state_codecs import ArpEntry, EncodingError
from midonet_ryu.nsdb.state_winners import TableState

PORT_A = uuid.UUID("11111111-1111-1111-1111-111111111111")
PORT_B = uuid.UUID("22222222-2222-2222-2222-222222222222")
MAC = "aa:bb:cc:dd:ee:ff"


def name(key, value, version, spec=MAC_TABLE):
    return node_names.encode_name(spec, key, value, version)


def test_names_follow_midonet_layout():
    assert name(MAC, PORT_A, 42) == f"{MAC},{PORT_A},0000000042"
    assert name(MAC, PORT_A, node_names.PERSISTENT_VERSION).endswith(",2147483647")
    assert node_names.encode_name(MAC_TABLE, "AA-BB-CC-DD-EE-FF", PORT_A) == f"{MAC},{PORT_A},"
    ip = ipaddress.IPv4Address("10.0.0.5")
    assert name(ip, MAC, 7, IP4_MAC_TABLE) == f"10.0.0.5,{MAC},0000000007"
    arp = ArpEntry(MAC, 1000, 900, 800)
    assert name(ip, arp, 3, ARP_TABLE) == f"10.0.0.5,{MAC};1000;900;800,0000000003"
    assert name(MAC, ip, 3, PEERING_TABLE) == f"{MAC},10.0.0.5,0000000003"


@pytest.mark.parametrize("spec,key,value", [
    (MAC_TABLE, MAC, PORT_A),
    (IP4_MAC_TABLE, ipaddress.IPv4Address("192.0.2.9"), MAC),
    (ARP_TABLE, ipaddress.IPv4Address("192.0.2.9"), ArpEntry(None, 5, 6, 7)),
    (PEERING_TABLE, MAC, ipaddress.IPv4Address("198.51.100.1")),
])
def test_decode_inverts_encode(spec, key, value):
    entry = node_names.decode_name(spec, node_names.encode_name(spec, key, value, 123))
    assert (entry.key, entry.value, entry.version) == (key, value, 123)
    assert spec.key.from_wire(spec.key.to_wire(key)) == key
    assert spec.value.from_wire(spec.value.to_wire(value)) == value


def test_wire_forms_are_midonets():
    assert codecs.MAC.to_wire(MAC) == 0xAABBCCDDEEFF
    assert codecs.IPV4.to_wire(ipaddress.IPv4Address("10.0.0.1")) == 0x0A000001
    assert codecs.UUID.to_wire(PORT_A) == PORT_A.bytes
    assert codecs.ARP_ENTRY.to_wire(ArpEntry(None)) == b"null;0;0;0"


@pytest.mark.parametrize("bad", [
    "", "nonsense", f"{MAC},{PORT_A}", f"{MAC},{PORT_A},42", f"{MAC},{PORT_A},00000000x2",
    f"zz:bb:cc:dd:ee:ff,{PORT_A},0000000001", f"{MAC},not-a-uuid,0000000001",
])
def test_bad_names_are_rejected(bad):
    with pytest.raises(EncodingError):
        node_names.decode_name(MAC_TABLE, bad)


@pytest.mark.parametrize("codec,data", [
    (codecs.MAC, 1 << 48), (codecs.MAC, b"x"), (codecs.IPV4, -1), (codecs.UUID, b"short"),
    (codecs.ARP_ENTRY, b"\xff\xfe"), (codecs.ARP_ENTRY, b"a;b"),
])
def test_bad_wire_values_are_rejected(codec, data):
    with pytest.raises(EncodingError):
        codec.from_wire(data)


def test_higher_learned_version_wins():
    state = TableState(MAC_TABLE)
    state.add(name(MAC, PORT_A, 5))
    change = state.add(name(MAC, PORT_B, 9))
    assert change.as_value_change() == (MAC, PORT_A, PORT_B)
    assert state.add(name(MAC, PORT_A, 7)) is None  # older entry: winner unchanged
    assert state.winners[MAC].value == PORT_B


def test_learned_beats_persistent_and_persistent_returns_when_learned_dies():
    state = TableState(MAC_TABLE)
    state.add(name(MAC, PORT_A, node_names.PERSISTENT_VERSION))
    learned = name(MAC, PORT_B, 1)
    assert state.add(learned).as_value_change() == (MAC, PORT_A, PORT_B)
    assert state.discard(learned).as_value_change() == (MAC, PORT_B, PORT_A)
    assert state.winners[MAC].version == node_names.PERSISTENT_VERSION


def test_replace_reports_one_change_per_key_and_ignores_garbage():
    state = TableState(MAC_TABLE)
    other = "11:22:33:44:55:66"
    state.replace([name(MAC, PORT_A, 1), name(other, PORT_A, 2)])
    changes = state.replace([name(MAC, PORT_A, 1), name(MAC, PORT_B, 3), "junk"])
    assert sorted(winners.value_changes(changes)) == sorted(
        [(MAC, PORT_A, PORT_B), (other, PORT_A, None)])
    assert state.bad_names == 1
    assert len(state) == 1


def test_same_value_at_new_version_is_not_a_value_change():
    state = TableState(MAC_TABLE)
    state.add(name(MAC, PORT_A, 1))
    change = state.add(name(MAC, PORT_A, 2))
    assert change is not None and change.new.version == 2
    assert change.as_value_change() is None


def test_find_spec_checks_classes():
    assert catalogue.find_spec("org.midonet.cluster.models.Topology$Network", "mac_table",
                         "org.midonet.packets.MAC", "java.util.UUID") is MAC_TABLE
    assert catalogue.find_spec("Router", "arp_table") is ARP_TABLE
    with pytest.raises(EncodingError):
        catalogue.find_spec("Network", "mac_table", "java.util.UUID")
    with pytest.raises(EncodingError):
        catalogue.find_spec("Network", "no_such_table")
