"""The stored form of topology objects: stable, strict, with clear errors."""
import uuid

import pytest

from midonet_ryu.topology import base
from midonet_ryu.topology.model import HostToIp, Network, Port, TunnelZone, TunnelZoneType


def test_round_trip_and_stable_bytes():
    tz = TunnelZone(id=uuid.uuid4(), name="z", type=TunnelZoneType.GRE,
                    hosts=(HostToIp(uuid.uuid4(), "192.0.2.1"),))
    data = base.serialize(tz)
    assert base.deserialize(TunnelZone, data) == tz
    assert base.serialize(base.deserialize(TunnelZone, data)) == data


def test_missing_fields_take_defaults():
    pid = uuid.uuid4()
    port = base.deserialize(Port, f'{{"id": "{pid}"}}'.encode())
    assert port == Port(id=pid)


@pytest.mark.parametrize("raw, message", [
    (b'{"id": 5}', "expected a UUID"),
    (b'{"id": "%s", "name": 3}', "expected a string"),
    (b'{"id": "%s", "bogus": 1}', "unknown fields"),
    (b'{"id": "%s", "port_ids": "x"}', "expected a list"),
    (b'{"id": "%s", "admin_state_up": 1}', "expected a boolean"),
    (b"[]", "expected an object"),
])
def test_bad_stored_data_is_a_clear_model_error(raw, message):
    if b"%s" in raw:
        raw = raw % str(uuid.uuid4()).encode()
    with pytest.raises(base.ModelError, match=message):
        base.deserialize(Network, raw)


def test_enum_values_are_checked():
    raw = f'{{"id": "{uuid.uuid4()}", "type": "carrier-pigeon"}}'.encode()
    with pytest.raises(base.ModelError, match="TunnelZoneType"):
        base.deserialize(TunnelZone, raw)


def test_registry_names_classes_by_their_zoom_name():
    assert base.model_class("Network") is Network
    with pytest.raises(base.ModelError):
        base.model_class("Nope")
