"""Team members of the server (`user add|list|disable|password`) and their API tokens
(`token create|revoke`)."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from segtrail.cli.app import JSON_OPTION, app, console, err_console, open_workspace, print_json
from segtrail.errors import InvalidInput
from segtrail.services.access import Role

user_app = typer.Typer(
    help=(
        "People who use the team server (`segtrail serve`): a viewer reads everything, an "
        "analyst also changes the lenses they are granted (and strategies and campaigns), "
        "an admin does everything, managing people included."
    ),
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="API tokens: the keys scripts and tools use to reach the team server as a person.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

TOKEN_NOTE = "Keep it now: it is shown only once (segtrail keeps only a fingerprint of it)."


def read_password(flag: str | None = None) -> str:
    """A password from standard input: typed twice, hidden, on a terminal; else the first
    line of what is piped in (so `echo ... |` and password managers work)."""
    if sys.stdin.isatty():
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput("no password on standard input", field=flag)
    return line


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="The person's user name, e.g. maria or j.smith."),
    role: Role = typer.Option(
        ...,
        "--role",
        help="viewer: reads everything; analyst: also changes the lenses granted with --lens; "
        "admin: does everything, managing people included.",
        case_sensitive=False,
    ),
    lens: list[str] = typer.Option(
        None,
        "--lens",
        help="A lens an analyst may change (repeat for more). The lens need not exist yet: "
        "it starts with its first segmentation.",
    ),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Also set a password for signing in from a browser, read from standard input.",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Add a person to the team and print their first API token (shown only once)."""
    password = read_password("password_stdin") if password_stdin else None
    created = open_workspace().user_add(name, role, lens or [], password)
    if json_output:
        print_json(created)
        return
    grants = f", may change: {', '.join(created.lenses)}" if created.lenses else ""
    console.print(f"user {created.name} added as {created.role}{grants}")
    console.print(f"API token ({created.token_id}): {created.token}")
    err_console.print(TOKEN_NOTE)


@user_app.command("list")
def user_list(json_output: bool = JSON_OPTION) -> None:
    """List the people of this workspace, their role, lenses and tokens."""
    users = open_workspace().user_list()
    if json_output:
        print_json(users)
        return
    if not users:
        console.print("no users yet; add one with `segtrail user add NAME --role admin`")
        return
    table = Table("user", "role", "lenses", "status", "password", "active tokens", box=None)
    for u in users:
        active = [t.token_id for t in u.tokens if not t.revoked]
        lenses = ", ".join(u.lenses) or ("all" if u.role == Role.ADMIN else "-")
        table.add_row(
            u.name,
            str(u.role),
            lenses,
            u.status,
            "set" if u.has_password else "-",
            ", ".join(active) or "-",
        )
    console.print(table)


@user_app.command("disable")
def user_disable(name: str = typer.Argument(..., help="The user to disable.")) -> None:
    """Stop a person from using the server: their tokens and sign-ins stop working at once.
    What they did stays in the history."""
    result = open_workspace().user_disable(name)
    console.print(f"user {result.user} disabled; their tokens and sessions no longer work")


@user_app.command("role")
def user_role(
    name: str = typer.Argument(..., help="The user whose role to change."),
    role: Role = typer.Option(
        ...,
        "--role",
        help="viewer, analyst or admin (see `segtrail user --help`).",
        case_sensitive=False,
    ),
) -> None:
    """Change what a person may do (the old role stays in the history)."""
    info = open_workspace().user_role(name, role)
    console.print(f"user {info.name} is now {info.role}")


LENS_ARGUMENT = typer.Option(..., "--lens", help="A lens (repeat for more).")


@user_app.command("grant")
def user_grant(
    name: str = typer.Argument(..., help="The analyst."),
    lens: list[str] = typer.Option(
        ...,
        "--lens",
        help="A lens they may change (repeat for more); it need not exist yet.",
    ),
) -> None:
    """Let an analyst change more lenses."""
    info = open_workspace().user_grant(name, lens)
    console.print(f"{info.name} may change: {', '.join(info.lenses) or 'no lens'}")


@user_app.command("ungrant")
def user_ungrant(
    name: str = typer.Argument(..., help="The analyst."),
    lens: list[str] = LENS_ARGUMENT,
) -> None:
    """Stop an analyst from changing some lenses (what they did there stays)."""
    info = open_workspace().user_ungrant(name, lens)
    console.print(f"{info.name} may change: {', '.join(info.lenses) or 'no lens'}")


@user_app.command("password")
def user_password(name: str = typer.Argument(..., help="The user whose password to set.")) -> None:
    """Set a person's password for signing in from a browser (read from standard input;
    typed twice, hidden, on a terminal). Their open browser sessions end."""
    password = read_password()
    open_workspace().user_password(name, password)
    console.print(f"password of {name} set")


@token_app.command("create")
def token_create(
    name: str = typer.Argument(..., help="The user the token acts as."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Make another API token for a person (e.g. one per script), shown only once."""
    created = open_workspace().token_create(name)
    if json_output:
        print_json(created)
        return
    console.print(f"API token for {created.name} ({created.token_id}): {created.token}")
    err_console.print(TOKEN_NOTE)


@token_app.command("revoke")
def token_revoke(
    token_id: str = typer.Argument(
        ..., help="The token's id, as `segtrail user list` shows it (not the token itself)."
    ),
) -> None:
    """Make a token stop working at once (the record that it existed stays)."""
    result = open_workspace().token_revoke(token_id)
    console.print(f"token {result.token_id} of {result.user} revoked")
