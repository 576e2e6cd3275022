"""Reading a write's body: chunked input, the size limit, bodies nested too
deep, and rule positions; driven through webob requests."""
from __future__ import annotations

import io
import types
import uuid

import pytest
import webob

from cluster_proxy.rest_api.app import RestApi, _place_rule
from cluster_proxy.rest_api.errors import ApiError
from midonet_ryu.api.representation import InvalidBody
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.topology.rules import Chain, Rule

LIMIT = 1024


@pytest.fixture
def api() -> RestApi:
    return RestApi(types.SimpleNamespace(client=None), Paths(),  # type: ignore[arg-type]
                   max_body_size=LIMIT)


def _request(body: bytes, chunked: bool = False) -> webob.Request:
    req = webob.Request.blank("/midonet-api/bridges", method="POST",
                              content_type="application/json")
    if chunked:
        # what a server hands the app: the de-chunked stream, no Content-Length
        req.environ["wsgi.input"] = io.BytesIO(body)
        req.environ.pop("CONTENT_LENGTH", None)
        req.environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        req.body = body
    return req


def test_chunked_body_is_read(api):
    assert api.body(_request(b'{"name": "c"}', chunked=True), None) == {"name": "c"}


def test_chunked_body_over_the_limit_is_413(api):
    with pytest.raises(ApiError) as e:
        api.body(_request(b'{"name": "' + b"x" * LIMIT + b'"}', chunked=True), None)
    assert e.value.status == 413


def test_declared_length_over_the_limit_is_413(api):
    with pytest.raises(ApiError) as e:
        api.body(_request(b"{" + b" " * LIMIT + b"}"), None)
    assert e.value.status == 413


@pytest.mark.parametrize("raw", [b"[" * 50_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
def test_nested_too_deep_is_400(raw):
    api = RestApi(types.SimpleNamespace(client=None), Paths(),  # type: ignore[arg-type]
                  max_body_size=len(raw) + 1)
    with pytest.raises(ApiError) as e:
        api.body(_request(raw), None)
    assert e.value.status == 400


class _Tx:
    """The part of a Transaction _place_rule uses."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def get(self, cls, obj_id):
        assert cls is Chain and obj_id == self.chain.id
        return self.chain

    def update(self, obj):
        self.chain = obj
        return obj


@pytest.mark.parametrize("position,order", [
    (1, ["new", "a", "b"]), (2, ["a", "new", "b"]), (3, ["a", "b", "new"]),
    (None, ["a", "b", "new"]),
])
def test_rule_position(position, order):
    ids = {n: uuid.uuid4() for n in ("a", "b", "new")}
    chain = Chain(id=uuid.uuid4(), rule_ids=(ids["a"], ids["b"], ids["new"]))
    tx = _Tx(chain)
    body = {} if position is None else {"position": position}
    _place_rule(tx, Rule(id=ids["new"], chain_id=chain.id), body)  # type: ignore[arg-type]
    assert tx.chain.rule_ids == tuple(ids[n] for n in order)


def test_rule_position_past_the_end_is_refused():
    chain = Chain(id=uuid.uuid4(), rule_ids=(uuid.uuid4(),))
    new = Rule(id=uuid.uuid4(), chain_id=chain.id)
    chain = chain.replace(rule_ids=chain.rule_ids + (new.id,))
    with pytest.raises(InvalidBody) as e:
        _place_rule(_Tx(chain), new, {"position": 3})  # type: ignore[arg-type]
    assert e.value.field == "position"
