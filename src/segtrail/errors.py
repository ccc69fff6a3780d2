"""Errors a user can cause, each with a kind.

Every kind has a stable code, the exit code the CLI uses and the HTTP status a web layer
answers with, all in one table (`KINDS`), so the interfaces never guess. Messages say what
is wrong in domain words; the CLI adds flag hints where it knows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    code: str  # stable, for scripts and API clients
    exit_code: int  # what the CLI exits with
    http_status: int  # what the web layer answers with


KINDS: dict[str, Kind] = {
    "invalid_input": Kind("invalid_input", 2, 422),
    "not_found": Kind("not_found", 2, 404),
    "conflict": Kind("conflict", 3, 409),
    "unauthenticated": Kind("unauthenticated", 4, 401),
    "forbidden": Kind("forbidden", 4, 403),
    "damaged": Kind("damaged", 2, 500),
}


class SegtrailError(Exception):
    """Base of every error a user can cause; on its own it means invalid input."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        # The input the message is about, in the services' words ("hypothesis", "segments");
        # interfaces turn it into their own hint (the CLI: the option's flag).
        self.field = field

    @property
    def kind(self) -> Kind:
        return KINDS[self.code]

    @property
    def exit_code(self) -> int:
        return self.kind.exit_code

    @property
    def http_status(self) -> int:
        return self.kind.http_status


class InvalidInput(SegtrailError):
    """Bad input or usage: a value, a file, an option."""

    code = "invalid_input"


class InputError(InvalidInput):
    """A file the user gave cannot be used; the message names file, row and column."""


class NotFound(SegtrailError):
    """Something named does not exist (a dataset, a version, a strategy...)."""

    code = "not_found"


class NotAWorkspace(NotFound):
    pass


class Conflict(SegtrailError):
    """Someone else changed the same thing first, or the name is taken; nothing was recorded."""

    code = "conflict"


class Unauthenticated(SegtrailError):
    code = "unauthenticated"


class Forbidden(SegtrailError):
    """The signed-in user may not do this (role or lens grant)."""

    code = "forbidden"


class Damaged(SegtrailError):
    """The workspace itself is damaged (a corrupted object, a broken database); run fsck."""

    code = "damaged"
