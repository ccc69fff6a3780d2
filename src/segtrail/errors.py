"""Errors a user can cause. The CLI turns them into one line on stderr and exit code 2."""


class SegtrailError(Exception):
    """Bad input or usage: the message is shown as is, the exit code is 2."""

    exit_code = 2


class NotAWorkspace(SegtrailError):
    pass


class NotFound(SegtrailError):
    pass


class InputError(SegtrailError):
    """A file the user gave cannot be used; the message names file, row and column."""
