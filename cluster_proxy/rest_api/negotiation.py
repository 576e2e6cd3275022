"""Media types: which one to answer with, which ones a write may carry.

MidoNet's clients ask for and send vendor types such as
``application/vnd.org.midonet.Bridge-v4+json`` (collections:
``...collection.Bridge-v4+json``); plain ``application/json`` is always
served and accepted. Any version of a resource's vendor type is accepted on
a write (the JSON is the same across the versions this API serves); a type
of another resource is refused with 415, and an Accept that allows nothing
we serve with 406.
"""
from __future__ import annotations

import re

import webob

from cluster_proxy.rest_api.errors import ApiError

JSON = "application/json"
_VENDOR = re.compile(
    r"^application/vnd\.org\.midonet\.(collection\.)?([A-Za-z0-9]+)(-v\d+)?\+json$")


def vendor(media: str) -> str:
    """``Bridge-v4`` -> ``application/vnd.org.midonet.Bridge-v4+json``."""
    return f"application/vnd.org.midonet.{media}+json"


def _base(media: str) -> str:
    return media.split(";")[0].strip().lower()


def answer_type(req: webob.Request, vendor: str | None) -> str:
    """The Content-Type to answer ``req`` with: ``vendor`` when the client
    names it (or any version of it), plain JSON when it takes JSON or anything."""
    accept = req.headers.get("Accept", "").strip()
    if not accept:
        return JSON
    offers = [JSON] + ([vendor] if vendor else [])
    for item in accept.split(","):
        media = _base(item)
        if vendor and _same_resource(media, vendor):
            return vendor
    for item in accept.split(","):
        media = _base(item)
        if media in ("*/*", "application/*", JSON, "application/*+json"):
            return JSON
    raise ApiError(406, f"cannot answer with any of {accept!r}; this resource is served as "
                   f"{' or '.join(offers)}")


def _same_resource(media: str, vendor: str) -> bool:
    want = _VENDOR.match(vendor.lower())
    got = _VENDOR.match(media)
    return bool(want and got and want.group(1) == got.group(1) and want.group(2) == got.group(2))


def check_body_type(req: webob.Request, vendor: str | None) -> None:
    """415 unless a write's Content-Type is JSON or ``vendor`` (any version)."""
    media = _base(req.headers.get("Content-Type", "") or JSON)
    if media == JSON or (vendor and _same_resource(media, vendor)):
        return
    raise ApiError(415, f"Content-Type {media!r} is not accepted here; send {JSON}"
                   + (f" or {vendor}" if vendor else ""))
