"""``midonet-cli``: the cliff application.

Run with a command (``midonet-cli bridge list``) it runs that command; run
without one it is an interactive shell (cliff's), where every command of
the session shares one login. Global options come before the command:

    midonet-cli [--api-url URL] [--user U] [--password P] [--project T] COMMAND ...

Errors are printed on stderr as one line, the API's message when the API
answered, and the exit code is 1; ``--debug`` adds the traceback.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import sys
from typing import Any

from cliff.app import App
from cliff.command import Command
from cliff.commandmanager import CommandManager

from midonet_cli import resource_commands, special_commands, trace_commands
from midonet_cli.client import Client, CliError, tty_prompt
from midonet_cli.settings import Settings, SettingsError, load

# cliff loads no commands from entry points under this name: they are all
# added from the resource table and the modules below.
NAMESPACE = "midonet_cli.commands"


def build_command_manager() -> CommandManager:
    manager = CommandManager(NAMESPACE)
    commands: dict[str, type[Command]] = {
        **resource_commands.all_commands(), **special_commands.COMMANDS,
        **trace_commands.COMMANDS}
    for name, cls in sorted(commands.items()):
        manager.add_command(name, cls)
    return manager


def _version() -> str:
    try:
        return importlib.metadata.version("midonet-ryu")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class MidonetCli(App):
    NAME = "midonet-cli"
    LOG = logging.getLogger(NAME)

    def __init__(self, **streams: Any) -> None:
        super().__init__(
            description="Manage a midonet-ryu cloud through the cluster's REST API.",
            version=_version(), command_manager=build_command_manager(),
            deferred_help=True, **streams)
        self._client: Client | None = None
        self.environ: dict[str, str] = dict(os.environ)
        self.failed = 0
        self._interacted = False

    def build_option_parser(self, description: str | None, version: str | None,
                            argparse_kwargs: dict[str, Any] | None = None
                            ) -> argparse.ArgumentParser:
        """cliff's options plus where the API is and who calls it. Abbreviations
        are off: cliff parses these options out of the whole command line, and
        a command's ``--pro`` must not be taken for ``--project``."""
        kwargs = dict(argparse_kwargs or {}, allow_abbrev=False, prog=self.NAME)
        parser = super().build_option_parser(description, version, kwargs)
        for action in parser._actions:  # cliff names the program after sys.argv[0]
            if "--version" in action.option_strings:
                action.version = f"{self.NAME} {version}"  # type: ignore[attr-defined]
        api = parser.add_argument_group("API")
        api.add_argument("--api-url", dest="api_url", metavar="URL",
                         help="the API's root (MIDO_API_URL; [cli] api_url in ~/.midonetrc; "
                              "default http://localhost:8181/midonet-api)")
        api.add_argument("--user", dest="username", metavar="NAME",
                         help="user name (MIDO_USER; [cli] username)")
        api.add_argument("--password", dest="password", metavar="PASSWORD",
                         help="password (MIDO_PASSWORD; [cli] password); asked for on a "
                              "terminal when none is set")
        api.add_argument("--project", dest="project_id", metavar="TENANT",
                         help="project (tenant) to scope the token to (MIDO_PROJECT_ID; "
                              "[cli] project_id)")
        api.add_argument("--token", dest="token", metavar="TOKEN",
                         help="use this token instead of logging in (MIDO_TOKEN), e.g. one "
                              "Keystone issued")
        api.add_argument("--timeout", dest="timeout", metavar="SECONDS",
                         help="how long to wait for an answer (MIDO_TIMEOUT; default 30)")
        return parser

    def run_subcommand(self, argv: list[str]) -> int:
        try:
            result = super().run_subcommand(argv)
        except BaseException:
            self.failed += 1
            raise
        if result:
            self.failed += 1
        return result

    def interact(self) -> None:
        from midonet_cli.shell import Shell

        self.interactive_app_factory = Shell
        super().interact()
        self._interacted = True

    def run(self, argv: list[str]) -> int:
        """cliff answers 1 after every interactive session; here a session
        (or a script piped in) exits 0 when all its commands succeeded."""
        result = super().run(argv)
        if self._interacted:
            return 1 if self.failed else 0
        return result

    def settings(self) -> Settings:
        try:
            return load(vars(self.options), self.environ)
        except SettingsError as e:
            raise CliError(str(e)) from None

    @property
    def client(self) -> Client:
        """Made on first use, so ``help`` needs no settings and interactive
        mode keeps one token for the session."""
        if self._client is None:
            self._client = Client(self.settings(), prompt=tty_prompt)
        return self._client


def main(argv: list[str] | None = None) -> int:
    return MidonetCli().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
