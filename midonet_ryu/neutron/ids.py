"""Ids of the objects a Neutron resource translates into.

A resource's main object keeps the resource's id (a network is the bridge of
the same id, a port the bridge port); the others get ids derived from it and
their role, so translating the same resource again names the same objects,
and a full sync can tell what should exist without a table of ids.
"""
from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("5b7f0c1e-3d2a-5e4f-9a61-0d5c2e8b7a10")


def derived(resource_id: uuid.UUID | str, role: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{resource_id}/{role}")


def as_uuid(value: object, what: str) -> uuid.UUID:
    from midonet_ryu.neutron.errors import TranslationError

    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise TranslationError(f"{what}: {value!r} is not a UUID") from None
