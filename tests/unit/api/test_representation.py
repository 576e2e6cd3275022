"""JSON to model: a port is on exactly one device."""
from __future__ import annotations

import uuid

import pytest

from midonet_ryu.api.representation import InvalidBody, from_json
from midonet_ryu.api.resources import BY_COLLECTION
from midonet_ryu.topology.model import Port

PORTS = BY_COLLECTION["ports"]
BRIDGE, ROUTER = uuid.uuid4(), uuid.uuid4()


def test_port_under_a_parent_or_by_type_and_device():
    assert from_json(PORTS, {}, None, {"network_id": BRIDGE}).network_id == BRIDGE
    port = from_json(PORTS, {"type": "Router", "deviceId": str(ROUTER)}, None)
    assert (port.router_id, port.network_id) == (ROUTER, None)


@pytest.mark.parametrize("body,fixed,field", [
    ({"type": "Router"}, None, "deviceId"),
    ({"type": "Bridge", "deviceId": None}, None, "deviceId"),
    ({"routerId": str(ROUTER)}, {"network_id": BRIDGE}, "routerId"),
    ({"type": "Bridge", "deviceId": str(BRIDGE), "routerId": str(ROUTER)}, None, "routerId"),
    ({"type": "Router", "deviceId": str(ROUTER), "networkId": str(BRIDGE)}, None,
     "networkId"),
])
def test_port_on_no_device_or_two_is_refused(body, fixed, field):
    with pytest.raises(InvalidBody) as e:
        from_json(PORTS, body, None, fixed)
    assert e.value.field == field


@pytest.mark.parametrize("body,field", [
    ({"routerId": str(ROUTER)}, "routerId"),
    ({"networkId": None}, "networkId"),
])
def test_update_cannot_leave_a_port_on_two_devices_or_none(body, field):
    current = Port(id=uuid.uuid4(), network_id=BRIDGE)
    with pytest.raises(InvalidBody) as e:
        from_json(PORTS, body, current)
    assert e.value.field == field
    assert from_json(PORTS, {"name": "ok"}, current).network_id == BRIDGE
