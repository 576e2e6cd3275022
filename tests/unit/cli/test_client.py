"""The HTTP client: login, token reuse, one re-login on 401, error messages."""
from __future__ import annotations

import base64

import pytest
import requests

from midonet_cli.client import ApiError, Client, CliError
from midonet_cli.settings import Settings
from tests.unit.cli.fakes import BASE, TOKEN, FakeApi, client, response


def test_logs_in_once_and_reuses_the_token() -> None:
    api = FakeApi()
    api.routes[("GET", "bridges")] = (200, [])
    c = client(api)
    assert c.get("bridges") == [] and c.get("bridges") == []
    assert api.logins == 1
    login, *calls = api.sent
    assert login.method == "POST" and login.auth == ("admin", "pw")
    assert "X-Auth-Project" not in login.headers
    assert all(s.headers["X-Auth-Token"] == TOKEN for s in calls)
    assert all(s.headers["Accept"] == "application/json" for s in api.sent)


def test_project_scopes_the_login() -> None:
    api = FakeApi()
    api.routes[("GET", "bridges")] = (200, [])
    client(api, project_id="tenant-a").get("bridges")
    assert api.sent[0].headers["X-Auth-Project"] == "tenant-a"


def test_a_401_on_a_reused_token_logs_in_again_once() -> None:
    api = FakeApi()
    api.tokens = ["old", "new"]
    api.routes[("GET", "bridges")] = lambda s: (
        (200, []) if s.headers["X-Auth-Token"] == "new" else
        (401, {"code": 401, "message": "token expired"}))
    c = client(api)
    c.login()
    assert c.get("bridges") == []
    assert api.logins == 2
    assert [s.headers.get("X-Auth-Token") for s in api.sent if s.path == "bridges"] == [
        "old", "new"]


def test_a_401_after_the_re_login_is_the_error() -> None:
    api = FakeApi()
    api.routes[("GET", "bridges")] = (401, {"code": 401, "message": "token expired"})
    c = client(api)
    c.login()
    with pytest.raises(ApiError) as err:
        c.get("bridges")
    assert err.value.status == 401 and str(err.value) == "token expired (HTTP 401)"
    assert api.logins == 2 and len([s for s in api.sent if s.path == "bridges"]) == 2


def test_a_401_on_a_fresh_token_is_not_retried() -> None:
    api = FakeApi()
    api.routes[("GET", "bridges")] = (401, {"code": 401, "message": "nope"})
    with pytest.raises(ApiError):
        client(api).get("bridges")
    assert api.logins == 1


def test_wrong_credentials_give_the_api_message() -> None:
    api = FakeApi()
    api.routes[("POST", "login")] = (401, {"code": 401, "message": "wrong user name or password"})
    with pytest.raises(ApiError, match=r"^wrong user name or password \(HTTP 401\)$"):
        client(api).get("bridges")


def test_a_given_token_is_used_without_login() -> None:
    api = FakeApi()
    api.routes[("GET", "bridges")] = (200, [])
    client(api, token="keystone-token", username=None).get("bridges")
    assert api.logins == 0 and api.sent[0].headers["X-Auth-Token"] == "keystone-token"


def test_error_message_is_the_apis() -> None:
    api = FakeApi()
    api.routes[("GET", "bridges/x")] = (403, {"code": 403, "message": "Bridge x belongs to "
                                              "another tenant"})
    with pytest.raises(ApiError) as err:
        client(api).get("bridges/x")
    assert err.value.message == "Bridge x belongs to another tenant"
    assert err.value.status == 403


def test_an_error_without_json_is_summarised() -> None:
    api = FakeApi()
    html = b"<html><body>" + b"bad gateway " * 100 + b"</body></html>"
    api.routes[("GET", "x")] = lambda s: response(502, raw=html, url=BASE + "/x")
    with pytest.raises(ApiError) as err:
        client(api).get("x")
    assert err.value.status == 502 and err.value.message.startswith("Bad Gateway: <html>")
    assert len(err.value.message) < 250


def test_connection_refused_names_the_url() -> None:
    api = FakeApi()
    api.error = requests.exceptions.ConnectionError(
        "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
        "/midonet-api/login (Caused by NewConnectionError('<urllib3.connection."
        "HTTPConnection object at 0x7f>: Failed to establish a new connection: "
        "[Errno 111] Connection refused'))")
    with pytest.raises(CliError) as err:
        client(api).get("bridges")
    assert str(err.value) == ("cannot reach the API at http://api.test/midonet-api: "
                              "Connection refused")


def test_timeout_says_how_long() -> None:
    api = FakeApi()
    api.error = requests.exceptions.ReadTimeout("read timed out")
    with pytest.raises(CliError, match=r"did not answer within 2 s"):
        client(api, timeout=2.0).get("bridges")


def test_timeouts_are_passed_to_requests() -> None:
    seen = {}

    class Session:
        def request(self, method: str, url: str, timeout: object = None, **kw: object
                    ) -> requests.Response:
            seen["timeout"] = timeout
            return response(200, {"key": "t"}, method=method, url=url)

    Client(Settings(username="u", password="p", timeout=60), session=Session()  # type: ignore[arg-type]
           ).login()
    assert seen["timeout"] == (5.0, 60)


def test_missing_credentials_say_where_to_set_them() -> None:
    with pytest.raises(CliError, match="no user name: give --user, set MIDO_USER"):
        client(FakeApi(), username=None).get("x")
    with pytest.raises(CliError, match="no password: give --password"):
        client(FakeApi(), password=None).get("x")


def test_a_missing_password_is_asked_for() -> None:
    api = FakeApi()
    api.routes[("GET", "x")] = (200, {})
    c = client(api, password=None)
    c.prompt = lambda message: "typed"
    c.get("x")
    assert api.sent[0].auth == ("admin", "typed")


def test_put_sends_if_match_and_delete_accepts_204() -> None:
    api = FakeApi()
    api.routes[("PUT", "bridges/1")] = (200, {"id": "1"})
    api.routes[("DELETE", "bridges/1")] = (204, None)
    c = client(api)
    assert c.put("bridges/1", {"name": "n"}, '"3"') == {"id": "1"}
    c.delete("bridges/1")
    put = api.sent[1]
    assert put.headers["If-Match"] == '"3"' and put.body == {"name": "n"}


def test_basic_header_is_what_requests_makes_of_auth() -> None:
    # the fake records ``auth``; this pins that requests turns it into Basic
    prepared = requests.Request("POST", "http://x/login", auth=("admin", "pw")).prepare()
    assert prepared.headers["Authorization"] == "Basic " + base64.b64encode(
        b"admin:pw").decode()
