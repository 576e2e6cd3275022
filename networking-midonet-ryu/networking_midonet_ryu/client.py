"""A small client of the cluster's REST API, for the Neutron side.

The one distinction the callers need is between a refusal and an outage: a
refused change will never be accepted as it is (the journal marks it failed
and goes on), an outage says nothing about the change (the journal keeps it
and retries). Everything this module raises is one of the two.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests

# A 401 is answered by logging in again; 408 and 429 ask us to come back.
_RETRY_LATER = frozenset({401, 408, 429})


class ClusterError(Exception):
    """Base of what the client raises."""


class Refused(ClusterError):
    """The cluster understood the request and will not apply it (4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f'{status}: {message}')
        self.status = status
        self.message = message


class Unavailable(ClusterError):
    """The cluster could not be asked or could not answer; try again later."""


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and body.get('message'):
        return str(body['message'])
    text = response.text.strip()
    return text[:500] if text else response.reason or 'refused'


class ClusterClient:
    """Logs in once, sends the token on every request, logs in again on 401.

    Safe to share between threads; a process that forked gets a fresh HTTP
    session rather than the parent's sockets.
    """

    def __init__(self, url: str, username: str, password: str,
                 project_id: str | None = None, timeout: float = 10.0,
                 session_factory: Callable[[], requests.Session] = requests.Session
                 ) -> None:
        self.url = url.rstrip('/')
        self._username = username
        self._password = password
        self._project_id = project_id
        self.timeout = timeout
        self._session_factory = session_factory
        self._session: requests.Session | None = None
        self._pid = 0
        self._token: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_conf(cls, opts: Any) -> ClusterClient:
        return cls(opts.cluster_url, opts.username or '', opts.password or '',
                   opts.project_id, opts.request_timeout)

    # -- plumbing ---------------------------------------------------------

    def _http(self) -> requests.Session:
        if self._session is None or self._pid != os.getpid():
            self._session = self._session_factory()
            self._pid = os.getpid()
            self._token = None
        return self._session

    def _login(self) -> str:
        headers = {'Accept': 'application/json'}
        if self._project_id:
            headers['X-Auth-Project'] = self._project_id
        try:
            response = self._http().post(
                self.url + '/login', auth=(self._username, self._password),
                headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unavailable(f'login: {exc}') from exc
        if response.status_code != 200:
            # Even a 4xx here is no verdict on any change: wrong credentials
            # are fixed by an operator, and then every pending row must go.
            raise Unavailable(f'login refused ({response.status_code}): {_message(response)}')
        try:
            key = response.json()['key']
        except (ValueError, KeyError, TypeError) as exc:
            raise Unavailable('login: no key in the answer') from exc
        return str(key)

    def _token_for(self, stale: str | None) -> str:
        with self._lock:
            self._http()
            if self._token is None or self._token == stale:
                self._token = self._login()
            return self._token

    def _send(self, method: str, path: str, token: str, body: str | None,
              params: Mapping[str, str] | None, timeout: float) -> requests.Response:
        headers = {'X-Auth-Token': token, 'Accept': 'application/json'}
        if body is not None:
            headers['Content-Type'] = 'application/json'
        try:
            return self._http().request(method, self.url + path, data=body,
                                        params=params, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise Unavailable(f'{method} {path}: {exc}') from exc

    def request(self, method: str, path: str, body: Any = None, *,
                params: Mapping[str, str] | None = None,
                timeout: float | None = None) -> Any:
        """Send one request; answer its JSON body (None when empty).

        ``body`` is sent as is when it is a string (journal rows hold JSON
        text already), else encoded as JSON.
        """
        data = body if body is None or isinstance(body, str) else json.dumps(body)
        wait = self.timeout if timeout is None else timeout
        token = self._token_for(None)
        response = self._send(method, path, token, data, params, wait)
        if response.status_code == 401:
            token = self._token_for(token)
            response = self._send(method, path, token, data, params, wait)
        status = response.status_code
        if status in _RETRY_LATER or status >= 500:
            raise Unavailable(f'{method} {path}: {status} {_message(response)}')
        if status >= 400:
            raise Refused(status, _message(response))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise Unavailable(f'{method} {path}: answer is not JSON') from exc

    # -- the cluster's Neutron endpoints -----------------------------------

    def upsert(self, collection: str, resource_id: str, body: Any) -> Any:
        return self.request('PUT', f'/neutron/{collection}/{resource_id}', body)

    def delete(self, collection: str, resource_id: str) -> None:
        self.request('DELETE', f'/neutron/{collection}/{resource_id}')

    def sync(self, resources: Mapping[str, Any], dry_run: bool = False) -> Any:
        params = {'dry_run': 'true'} if dry_run else None
        # A full dump can be large and the cluster compares all of it.
        return self.request('POST', '/neutron/sync', dict(resources), params=params,
                            timeout=max(self.timeout, 120.0))

    def port_status(self, cursor: str | None, wait: float) -> Any:
        params = {'timeout': f'{wait:g}'}
        if cursor is not None:
            params['cursor'] = cursor
        return self.request('GET', '/neutron/port_status', params=params,
                            timeout=self.timeout + wait)

    def hosts(self) -> Any:
        return self.request('GET', '/hosts')
