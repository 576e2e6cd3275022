"""Compatibility re-exports of the state table codecs, catalogue, node names and winners."""
from midonet_ryu.nsdb.state_catalogue import (
    ARP_TABLE,
    IP4_MAC_TABLE,
    MAC_TABLE,
    PEERING_TABLE,
    TABLE_SPECS,
    K,
    TableSpec,
    V,
    find_spec,
)
from midonet_ryu.nsdb.state_codecs import (
    ARP_ENTRY,
    IPV4,
    MAC,
    TEXT,
    UUID,
    ArpEntry,
    ArpEntryCodec,
    Codec,
    EncodingError,
    IPv4Codec,
    MacCodec,
    T,
    TextCodec,
    UUIDCodec,
    normalize_mac,
)
from midonet_ryu.nsdb.state_node_names import PERSISTENT_VERSION, Entry, decode_name, encode_name
from midonet_ryu.nsdb.state_winners import (
    Change,
    TableState,
    WinnerChange,
    squash,
    value_changes,
)

__all__ = [
    "ARP_ENTRY", "ARP_TABLE", "IP4_MAC_TABLE", "IPV4", "MAC", "MAC_TABLE", "PEERING_TABLE",
    "PERSISTENT_VERSION", "TABLE_SPECS", "TEXT", "UUID", "ArpEntry", "ArpEntryCodec",
    "Change", "Codec", "EncodingError", "Entry", "IPv4Codec", "K", "MacCodec", "T",
    "TableSpec", "TableState", "TextCodec", "UUIDCodec", "V", "WinnerChange", "decode_name",
    "encode_name", "find_spec", "normalize_mac", "squash", "value_changes",
]
