"""Settings precedence: defaults < rc file < environment < command line."""
from __future__ import annotations

import pathlib

import pytest

from midonet_cli.settings import DEFAULT_API_URL, SettingsError, load, rc_path

RC = """\
[cli]
api_url = http://rc:8181/midonet-api
username = rc-user
password = rc-pw
project_id = rc-project
"""


@pytest.fixture
def rc(tmp_path: pathlib.Path) -> str:
    path = tmp_path / "midonetrc"
    path.write_text(RC)
    return str(path)


def test_defaults_without_any_source(tmp_path: pathlib.Path) -> None:
    s = load({}, {"HOME": str(tmp_path)})
    assert (s.api_url, s.username, s.password, s.project_id, s.token) == (
        DEFAULT_API_URL, None, None, None, None)
    assert s.timeout == 30.0


def test_rc_file_named_by_midonetrc(rc: str) -> None:
    s = load({}, {"MIDONETRC": rc})
    assert (s.api_url, s.username, s.password, s.project_id) == (
        "http://rc:8181/midonet-api", "rc-user", "rc-pw", "rc-project")
    assert s.origin["username"] == rc


def test_home_midonetrc_is_the_default(tmp_path: pathlib.Path) -> None:
    (tmp_path / ".midonetrc").write_text(RC)
    assert rc_path({"HOME": str(tmp_path)}) == str(tmp_path / ".midonetrc")
    assert load({}, {"HOME": str(tmp_path)}).username == "rc-user"


def test_environment_beats_rc_file(rc: str) -> None:
    s = load({}, {"MIDONETRC": rc, "MIDO_USER": "env-user", "MIDO_API_URL": "http://env/api",
                  "MIDO_PROJECT_ID": "env-project"})
    assert (s.api_url, s.username, s.password, s.project_id) == (
        "http://env/api", "env-user", "rc-pw", "env-project")
    assert s.origin["username"] == "MIDO_USER" and s.origin["password"] == rc


def test_flags_beat_environment(rc: str) -> None:
    s = load({"username": "flag-user", "password": "flag-pw", "api_url": None,
              "project_id": ""},
             {"MIDONETRC": rc, "MIDO_USER": "env-user", "MIDO_PASSWORD": "env-pw"})
    assert (s.username, s.password, s.api_url, s.project_id) == (
        "flag-user", "flag-pw", "http://rc:8181/midonet-api", "rc-project")


def test_base_has_no_trailing_slash() -> None:
    assert load({"api_url": "http://h/midonet-api/"}, {"MIDONETRC": "/nonexistent"}).base \
        == "http://h/midonet-api"


def test_broken_rc_file_is_an_error_naming_it(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "rc"
    path.write_text("username = no section\n")
    with pytest.raises(SettingsError, match=f"cannot read {path}"):
        load({}, {"MIDONETRC": str(path)})


def test_rc_file_without_cli_section_is_ignored(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "rc"
    path.write_text("[other]\nusername = x\n")
    assert load({}, {"MIDONETRC": str(path)}).username is None


@pytest.mark.parametrize("flags, message", [
    ({"api_url": "localhost:8181"}, "is not an http:// or https:// URL"),
    ({"timeout": "soon"}, "is not a number of seconds"),
    ({"timeout": "0"}, "must be positive"),
])
def test_bad_values_are_errors(flags: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(flags, {"MIDONETRC": "/nonexistent"})
