"""JSON Schemas from the model: formats checked whole, the field a refusal
names, the range a plain int takes."""
from __future__ import annotations

import pytest

from midonet_ryu.api import schemas
from midonet_ryu.api.representation import InvalidBody, validate
from midonet_ryu.api.resources import BY_COLLECTION


def _check(fmt: str, value: str) -> bool:
    v = schemas.validator({"type": "string", "format": fmt})
    return schemas.first_error(v, value) is None


@pytest.mark.parametrize("value,ok", [
    ("02:00:00:00:00:01", True), ("AA:bb:CC:dd:EE:ff", True),
    ("02:00:00:00:00:01\n", False), ("\n02:00:00:00:00:01", False),
    ("02-00-00-00-00-01", False), ("02:00:00:00:00", False), ("02:00:00:00:00:001", False),
])
def test_mac(value, ok):
    assert _check("mac", value) is ok


@pytest.mark.parametrize("value,ok", [
    ("10.0.0.0/24", True), ("0.0.0.0/0", True), ("10.0.0.1/32", True),
    ("10.0.0.1/24", False),  # host bits
    ("10.0.0.0", False),  # no length: not read as a /32
    ("10.0.0.0/33", False), ("10.0.0.0/24\n", False), ("::/0", False),
])
def test_cidr(value, ok):
    assert _check("cidr", value) is ok


def test_plain_int_is_64_bit():
    schema = BY_COLLECTION["traces"].schema(write=False)["properties"]["creationTimestampMs"]
    assert (schema["minimum"], schema["maximum"]) == (-(2**63), 2**63 - 1)
    # declared bounds still win
    vlan = BY_COLLECTION["ports"].schema(write=True)["properties"]["vlanId"]
    assert vlan["maximum"] == 4095


@pytest.mark.parametrize("schema,body,field", [
    ({"type": "object", "required": ["a"], "properties": {"a": {}}}, {}, "a"),
    ({"type": "object", "properties": {"r": {"type": "object", "required": ["start", "end"],
                                             "properties": {"start": {}, "end": {}}}}},
     {"r": {"start": 1}}, "r.end"),
    ({"type": "object", "properties": {"l": {"type": "array", "items": {
        "type": "object", "required": ["x"], "properties": {"x": {}}}}}},
     {"l": [{"x": 1}, {}]}, "l.1.x"),
])
def test_missing_required_field_is_named(schema, body, field):
    found = schemas.first_error(schemas.validator(schema), body)
    assert found is not None and found[0] == field
    assert found[1].startswith(field)


def test_rule_body_errors_name_the_field():
    with pytest.raises(InvalidBody) as e:
        validate(BY_COLLECTION["rules"], {"type": "accept", "tpDst": {"start": 1}})
    assert e.value.field == "tpDst.end"
    with pytest.raises(InvalidBody) as e:
        validate(BY_COLLECTION["rules"], {"type": "accept", "bogus": 1})
    assert e.value.field == "bogus"
