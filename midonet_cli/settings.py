"""Where ``midonet-cli`` finds the API and the credentials.

Lowest to highest precedence: the defaults, the rc file (``~/.midonetrc``,
or the file ``MIDONETRC`` names, INI section ``[cli]`` with ``api_url``,
``username``, ``password``, ``project_id`` as MidoNet's midonet-cli read it),
the environment (``MIDO_API_URL``, ``MIDO_USER``, ``MIDO_PASSWORD``,
``MIDO_PROJECT_ID``) and the command line (``--api-url``, ``--user``,
``--password``, ``--project``). Settings are resolved once per process,
before any command runs, so interactive mode keeps them.

A token (``MIDO_TOKEN``/``--token``, or ``token`` in the rc file) is used as
is instead of logging in: what a Keystone deployment needs, where the API's
own login refuses to issue tokens.
"""
from __future__ import annotations

import configparser
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

DEFAULT_API_URL = "http://localhost:8181/midonet-api"
DEFAULT_TIMEOUT = 30.0
RC_SECTION = "cli"

# setting -> (rc file key, environment variable)
_SOURCES = {
    "api_url": ("api_url", "MIDO_API_URL"),
    "username": ("username", "MIDO_USER"),
    "password": ("password", "MIDO_PASSWORD"),
    "project_id": ("project_id", "MIDO_PROJECT_ID"),
    "token": ("token", "MIDO_TOKEN"),
    "timeout": ("timeout", "MIDO_TIMEOUT"),
}


class SettingsError(ValueError):
    """An rc file or value that cannot be used; the message names it."""


@dataclasses.dataclass(frozen=True)
class Settings:
    api_url: str = DEFAULT_API_URL
    username: str | None = None
    password: str | None = None
    project_id: str | None = None
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    # where each value came from, for error messages ("rc file /x", "MIDO_USER", ...)
    origin: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.api_url.rstrip("/")


def rc_path(environ: Mapping[str, str]) -> str:
    explicit = environ.get("MIDONETRC")
    if explicit:
        return os.path.expanduser(explicit)
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".midonetrc")


def read_rc(path: str) -> dict[str, str]:
    """The ``[cli]`` section of ``path``; an absent file is empty, a broken one an error."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        return {}
    except (OSError, configparser.Error, UnicodeDecodeError) as e:
        raise SettingsError(f"cannot read {path}: {e}") from None
    if not parser.has_section(RC_SECTION):
        return {}
    return {k: v.strip() for k, v in parser.items(RC_SECTION)}


def load(flags: Mapping[str, Any], environ: Mapping[str, str],
         path: str | None = None) -> Settings:
    """Settings from ``flags`` (the parsed command line: attributes
    ``api_url``, ``username``, ``password``, ``project_id``, ``token``,
    ``timeout``; None when not given), ``environ`` and the rc file."""
    path = path or rc_path(environ)
    rc = read_rc(path)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, (rc_key, env_key) in _SOURCES.items():
        flag = flags.get(name)
        if flag not in (None, ""):
            values[name], origin[name] = flag, "the command line"
        elif environ.get(env_key):
            values[name], origin[name] = environ[env_key], env_key
        elif rc.get(rc_key):
            values[name], origin[name] = rc[rc_key], path
    if "timeout" in values:
        try:
            values["timeout"] = float(values["timeout"])
        except ValueError:
            raise SettingsError(f"timeout {values['timeout']!r} (from {origin['timeout']}) "
                                "is not a number of seconds") from None
        if values["timeout"] <= 0:
            raise SettingsError(f"timeout (from {origin['timeout']}) must be positive")
    url = values.get("api_url", DEFAULT_API_URL)
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"api_url {url!r} (from {origin.get('api_url', 'the default')}) "
                            "is not an http:// or https:// URL")
    return Settings(origin=origin, **values)
