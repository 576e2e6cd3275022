"""A small HTTP client for the cluster's REST API, on ``requests``.

It logs in lazily (``POST <base>/login`` with HTTP Basic credentials and
``X-Auth-Project`` when a project is set), reuses the token for every later
request of the process (interactive mode runs many commands on one login),
and logs in again once when a request is answered 401 (the token expired or
the cluster's secret changed). Every failure becomes a :class:`CliError`
whose message is what the user should read: the API's own ``message`` for
an answer ``{"code", "message"}``, "cannot reach the API at URL: reason"
when nothing answers. cliff prints it on stderr and exits 1, without a
traceback.
"""
from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

import requests

from midonet_cli.settings import Settings

JSON = "application/json"
CONNECT_TIMEOUT = 5.0


class CliError(Exception):
    """A failure the user can act on; its message is complete as it is."""


class ApiError(CliError):
    """The API refused a request; ``message`` is the API's."""

    def __init__(self, status: int, message: str, method: str = "", url: str = "") -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message
        self.method = method
        self.url = url


def error_of(resp: requests.Response) -> ApiError:
    """The API's ``{"code", "message"}`` answer as an error; any other body is
    summarised (a proxy's HTML page must not flood the terminal)."""
    message = ""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
    else:
        text = " ".join(resp.text.split())[:200]
        message = f"{resp.reason or 'error'}" + (f": {text}" if text else "")
    return ApiError(resp.status_code, message, resp.request.method or "", resp.url)


def _reason(exc: BaseException) -> str:
    """The root cause of a connection failure ("Connection refused"), not
    urllib3's nested retry description."""
    text = str(exc)
    found: list[str] = re.findall(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if found:
        return found[-1].strip()
    for marker in ("Failed to resolve", "Name or service not known", "certificate verify failed"):
        if marker in text:
            return marker
    return text


class Client:
    """The API at ``settings.api_url`` as the settings' user.

    ``session`` may be any object with requests' ``Session.request``
    signature (unit tests pass a fake); ``prompt`` asks for a missing
    password (None: never ask).
    """

    def __init__(self, settings: Settings, session: requests.Session | None = None,
                 prompt: Callable[[str], str] | None = None) -> None:
        self.settings = settings
        self.session = session if session is not None else requests.Session()
        self.prompt = prompt
        self.token: str | None = settings.token
        self.logins = 0

    @property
    def base(self) -> str:
        return self.settings.base

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else \
            f"{self.base}/{path.lstrip('/')}"

    # -- transport -------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        timeout = self.settings.timeout
        try:
            return self.session.request(method, url, timeout=(min(CONNECT_TIMEOUT, timeout),
                                                              timeout), **kwargs)
        except requests.exceptions.Timeout:
            raise CliError(f"the API at {self.base} did not answer within {timeout:g} s") \
                from None
        except requests.exceptions.ConnectionError as e:
            raise CliError(f"cannot reach the API at {self.base}: {_reason(e)}") from None
        except requests.exceptions.RequestException as e:
            raise CliError(f"request to {url} failed: {e}") from None

    # -- authentication ----------------------------------------------------------------
    def _password(self) -> str:
        if self.settings.password is not None:
            return self.settings.password
        if self.prompt is not None:
            return self.prompt(f"Password for {self.settings.username}: ")
        raise CliError("no password: give --password, set MIDO_PASSWORD or password in "
                       "the [cli] section of ~/.midonetrc")

    def login(self) -> str:
        """A new token for the configured user (and project)."""
        user = self.settings.username
        if not user:
            raise CliError("no user name: give --user, set MIDO_USER or username in the "
                           "[cli] section of ~/.midonetrc")
        headers = {"Accept": JSON}
        if self.settings.project_id:
            headers["X-Auth-Project"] = self.settings.project_id
        resp = self._send("POST", self.url("login"), auth=(user, self._password()),
                          headers=headers)
        if resp.status_code != 200:
            raise error_of(resp)
        token = None
        try:
            body = resp.json()
            token = body.get("key") if isinstance(body, dict) else None
        except ValueError:
            pass
        token = token or resp.headers.get("X-Auth-Token")
        if not token:
            raise CliError(f"the API at {self.base} answered the login without a token")
        self.token = token
        self.logins += 1
        return token

    # -- requests ------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None,
                params: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None) -> requests.Response:
        """One API request; a 401 on a reused token logs in again and retries once."""
        fresh = False
        if self.token is None:
            self.login()
            fresh = True
        resp = self._authorized(method, path, body, params, headers)
        if resp.status_code == 401 and not fresh and self.settings.username:
            self.login()
            resp = self._authorized(method, path, body, params, headers)
        if resp.status_code >= 400:
            raise error_of(resp)
        return resp

    def _authorized(self, method: str, path: str, body: Any,
                    params: Mapping[str, str] | None,
                    headers: Mapping[str, str] | None) -> requests.Response:
        all_headers = {"Accept": JSON, "X-Auth-Token": self.token or ""}
        all_headers.update(headers or {})
        kwargs: dict[str, Any] = {"headers": all_headers}
        if body is not None:
            kwargs["json"] = body
        if params:
            kwargs["params"] = dict(params)
        return self._send(method, self.url(path), **kwargs)

    def _json(self, resp: requests.Response) -> Any:
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise CliError(f"the API answered {resp.request.method} {resp.url} with a body "
                           "that is not JSON") from None

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self._json(self.request("GET", path, params=params))

    def get_with_etag(self, path: str) -> tuple[Any, str | None]:
        resp = self.request("GET", path)
        return self._json(resp), resp.headers.get("ETag")

    def post(self, path: str, body: Any) -> Any:
        return self._json(self.request("POST", path, body))

    def put(self, path: str, body: Any, etag: str | None = None) -> Any:
        return self._json(self.request("PUT", path, body,
                                       headers={"If-Match": etag} if etag else None))

    def delete(self, path: str) -> None:
        self.request("DELETE", path)


def tty_prompt(message: str) -> str:
    """Ask for a password on the terminal; without one, fail rather than hang."""
    if not sys.stdin.isatty():
        raise CliError("no password: give --password, set MIDO_PASSWORD or password in the "
                       "[cli] section of ~/.midonetrc")
    return getpass.getpass(message)
