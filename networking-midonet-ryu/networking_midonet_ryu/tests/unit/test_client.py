"""The cluster client: login, token, and refusal versus outage."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from networking_midonet_ryu.client import ClusterClient, Refused, Unavailable

URL = 'http://cluster:8181/midonet-api'


def response(status: int, body: Any = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = b'' if body is None else json.dumps(body).encode()
    return answer


class FakeSession:
    """Answers from a script: a list of responses or exceptions, in order."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []

    def _next(self, **call: Any) -> requests.Response:
        self.calls.append(call)
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._next(method='LOGIN', url=url, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self._next(method=method, url=url, **kwargs)


def client(script: list[Any], project: str | None = None) -> tuple[ClusterClient, FakeSession]:
    session = FakeSession(script)
    return ClusterClient(URL, 'neutron', 'secret', project, 5.0,
                         session_factory=lambda: session), session  # type: ignore[return-value]


LOGIN = response(200, {'key': 'k1', 'expires': '2099-01-01T00:00:00Z'})


def test_logs_in_once_and_sends_the_token() -> None:
    c, session = client([LOGIN, response(200, {'result': 'created'}), response(204)],
                        project='admin-project')
    assert c.upsert('ports', 'p1', '{"id": "p1"}') == {'result': 'created'}
    c.delete('ports', 'p1')
    login, put, delete = session.calls
    assert login['url'] == URL + '/login'
    assert login['auth'] == ('neutron', 'secret')
    assert login['headers']['X-Auth-Project'] == 'admin-project'
    assert (put['method'], put['url'], put['data']) == ('PUT', URL + '/neutron/ports/p1',
                                                        '{"id": "p1"}')
    assert put['headers']['X-Auth-Token'] == 'k1'
    assert delete['headers']['X-Auth-Token'] == 'k1'


def test_401_logs_in_again_once() -> None:
    c, session = client([LOGIN, response(401), response(200, {'key': 'k2'}),
                         response(200, {})])
    c.upsert('networks', 'n1', {'id': 'n1'})
    assert [call['method'] for call in session.calls] == ['LOGIN', 'PUT', 'LOGIN', 'PUT']
    assert session.calls[-1]['headers']['X-Auth-Token'] == 'k2'
    assert json.loads(session.calls[-1]['data']) == {'id': 'n1'}


def test_401_after_a_new_login_is_an_outage() -> None:
    c, _ = client([LOGIN, response(401), response(200, {'key': 'k2'}), response(401)])
    with pytest.raises(Unavailable):
        c.upsert('networks', 'n1', {})


@pytest.mark.parametrize('status', [400, 403, 404, 409, 422])
def test_4xx_is_a_refusal_with_the_cluster_message(status: int) -> None:
    c, _ = client([LOGIN, response(status, {'code': status, 'message': 'no IPv6'})])
    with pytest.raises(Refused) as caught:
        c.upsert('subnets', 's1', {})
    assert (caught.value.status, caught.value.message) == (status, 'no IPv6')


@pytest.mark.parametrize('status', [408, 429, 500, 502, 503])
def test_retry_later_statuses_are_outages(status: int) -> None:
    c, _ = client([LOGIN, response(status, {'message': 'busy'})])
    with pytest.raises(Unavailable):
        c.upsert('subnets', 's1', {})


def test_connection_errors_and_timeouts_are_outages() -> None:
    c, _ = client([requests.ConnectionError('refused')])
    with pytest.raises(Unavailable):
        c.hosts()
    c, _ = client([LOGIN, requests.Timeout('slow')])
    with pytest.raises(Unavailable):
        c.hosts()


def test_a_refused_login_is_an_outage_not_a_refusal() -> None:
    c, _ = client([response(401, {'message': 'bad password'})])
    with pytest.raises(Unavailable):
        c.upsert('ports', 'p1', {})


def test_port_status_long_poll_parameters() -> None:
    c, session = client([LOGIN, response(200, {'cursor': '1'}), response(200, {'cursor': '2'})])
    c.port_status(None, 20.0)
    c.port_status('1', 20.0)
    first, second = session.calls[1:]
    assert first['params'] == {'timeout': '20'}
    assert second['params'] == {'timeout': '20', 'cursor': '1'}
    assert second['timeout'] == 25.0  # the request outlives the wait


def test_sync_dry_run() -> None:
    c, session = client([LOGIN, response(200, {'created': []})])
    c.sync({'networks': []}, dry_run=True)
    call = session.calls[1]
    assert (call['method'], call['url'], call['params']) == (
        'POST', URL + '/neutron/sync', {'dry_run': 'true'})
    assert json.loads(call['data']) == {'networks': []}
