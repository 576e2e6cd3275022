"""The interactive shell: cliff's, with two fixes.

cmd2 reads the process's ``sys.argv`` at start and runs what it finds as
the shell's first commands, so ``midonet-cli --debug`` (a global option and
no command: interactive mode) would first run a command named ``--debug``.
The options were already cliff's; the shell must not see them again.

cliff's ``precmd`` joins a command's arguments with spaces, dropping their
quotes: ``--name 'web tier'`` became two arguments and ``--in-ports ''``
(an empty list) none. Here they are re-quoted, so a line means in the shell
what it means on the command line.

Imported only when a shell starts: cmd2 is slow to import.
"""
from __future__ import annotations

import shlex
from typing import Any

import cmd2
from cliff.interactive import InteractiveApp


class Shell(InteractiveApp):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._startup_commands.clear()

    def precmd(self, statement: cmd2.Statement | str) -> cmd2.Statement:
        statement = cmd2.Cmd.precmd(self, statement)
        try:
            _, cmd_name, sub_argv = self.command_manager.find_command(
                self._split_line(statement))
        except ValueError:  # not one of ours: cmd2's own (help, quit...)
            return statement
        return cmd2.Statement(
            shlex.join(sub_argv), raw=statement.raw, command=cmd_name,
            multiline_command=statement.multiline_command, terminator=statement.terminator,
            suffix=statement.suffix, redirector=statement.redirector,
            redirect_to=statement.redirect_to)
