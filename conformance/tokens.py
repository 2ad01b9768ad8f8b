"""Bearer tokens for the runner: given on the command line, or printed by a command.

`--token VALUE` is the default token; `--token NAME=VALUE` a named one. `--token-command CMD`
runs CMD (split like a shell would, no shell) with the token's name as its last argument
and takes its trimmed standard output as the token; each name is asked for once per run.
Scripts use a named token in a request header: `Authorization: Bearer ${token.NAME}`.
Tokens never appear in reports.
"""

from __future__ import annotations

import re
import shlex
import subprocess

DEFAULT = "default"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,40}")


class TokenError(Exception):
    """A token that was asked for and could not be had."""


class TokenSource:
    """Named tokens, from values or a command, cached for the run."""

    def __init__(self, values: dict[str, str] | None = None, command: str | None = None) -> None:
        self._values = dict(values or {})
        self._command = shlex.split(command) if command else None

    @classmethod
    def from_options(cls, tokens: list[str], command: str | None) -> TokenSource:
        values: dict[str, str] = {}
        for item in tokens:
            name, sep, value = item.partition("=")
            if sep and _NAME.fullmatch(name):
                values[name] = value
            else:
                values[DEFAULT] = item
        return cls(values, command)

    def get(self, name: str = DEFAULT) -> str | None:
        if name in self._values:
            return self._values[name]
        if self._command is None:
            return None
        try:
            done = subprocess.run(  # noqa: S603 - the user's own command, no shell
                [*self._command, name], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TokenError(f"token command failed for {name!r}: {type(exc).__name__}") from None
        token = done.stdout.strip()
        if done.returncode != 0 or not token:
            raise TokenError(f"token command gave no token for {name!r} (exit {done.returncode})")
        self._values[name] = token
        return token

    def secrets(self) -> list[str]:
        return [v for v in self._values.values() if v]
