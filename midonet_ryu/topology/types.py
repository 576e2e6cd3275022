"""What a string or integer field of the model holds, declared once on the field.

A field typed ``Mac`` is still a ``str`` to the store's codec and the engine
(``typing.get_type_hints`` drops ``Annotated`` extras), but the REST API's
JSON Schemas read the extras, so the format of a MAC, an address or a CIDR,
a name's length and a VLAN's range are declared here and nowhere else.
"""
from __future__ import annotations

import dataclasses
from typing import Annotated


@dataclasses.dataclass(frozen=True, slots=True)
class Format:
    """A string's format: ``mac``, ``ipv4``, ``cidr`` (IPv4 network), ``ip`` (v4 or v6)."""

    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Bounds:
    """Inclusive limits: of an integer's value, or of a string's length."""

    minimum: int | None = None
    maximum: int | None = None


Mac = Annotated[str, Format("mac")]
IPv4 = Annotated[str, Format("ipv4")]
IPAddress = Annotated[str, Format("ip")]
Cidr = Annotated[str, Format("cidr")]
Name = Annotated[str, Bounds(0, 255)]
TenantId = Annotated[str, Bounds(0, 255)]
VlanId = Annotated[int, Bounds(0, 4095)]
TransportPort = Annotated[int, Bounds(0, 65535)]
Weight = Annotated[int, Bounds(0, 65535)]
Byte = Annotated[int, Bounds(0, 255)]
EtherType = Annotated[int, Bounds(0, 65535)]
Seconds = Annotated[int, Bounds(0, 2**31 - 1)]
