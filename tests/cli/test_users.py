"""`segtrail user ...` and `segtrail token ...` on both backends: the token is printed once
and works, bad input is one line with exit 2 (a taken name: exit 3) and leaves the workspace
as it was, events name the CLI's author and hold no secret, and concurrent `user add` of one
name from real processes lets exactly one through."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import SEGTRAIL, Runner, base_env

from segtrail.services.access import authenticate_token, sign_in
from segtrail.services.workspace import Workspace

TreeHash = Callable[[Path], dict]


def _open(root: Path) -> Workspace:
    return Workspace.open(root, author="checker")


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_user_add_prints_a_working_token_once(workspace: Path, cli: Runner) -> None:
    result = cli("user", "add", "maria", "--role", "analyst", "--lens", "marketing", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["user"] == "maria" and data["role"] == "analyst"
    assert data["lenses"] == ["marketing"]
    with _open(workspace) as ws:
        principal = authenticate_token(ws, data["token"])
        assert (principal.name, str(principal.role), principal.lenses) == (
            "maria",
            "analyst",
            frozenset({"marketing"}),
        )
    listed = cli("user", "list", "--json")
    assert data["token"] not in listed.out
    assert listed.json()[0]["tokens"][0]["token_id"] == data["token_id"]

    plain = cli("user", "add", "bob", "--role", "viewer")
    assert plain.code == 0, plain.err
    (token_line,) = [line for line in plain.out.splitlines() if "st_" in line]
    token = token_line.split(": ", 1)[1]
    assert "shown only once" in plain.err
    with _open(workspace) as ws:
        assert authenticate_token(ws, token).name == "bob"


def test_password_from_stdin(workspace: Path, cli: Runner, monkeypatch) -> None:
    _stdin(monkeypatch, "first password\n")
    assert cli("user", "add", "ana", "--role", "admin", "--password-stdin").code == 0
    with _open(workspace) as ws:
        assert sign_in(ws, "ana", "first password").principal.name == "ana"
    _stdin(monkeypatch, "second password\n")
    result = cli("user", "password", "ana")
    assert result.code == 0, result.err
    with _open(workspace) as ws:
        assert sign_in(ws, "ana", "second password").principal.name == "ana"
    assert cli("user", "list", "--json").json()[0]["has_password"] is True


def test_disable_and_tokens(workspace: Path, cli: Runner) -> None:
    first = cli("user", "add", "sam", "--role", "analyst", "--json").json()
    second = cli("token", "create", "sam", "--json")
    assert second.code == 0, second.err
    second_token = second.json()["token"]
    assert second.json()["user"] == "sam"
    revoked = cli("token", "revoke", first["token_id"])
    assert revoked.code == 0, revoked.err
    assert f"token {first['token_id']} of sam revoked" in revoked.out
    again = cli("token", "revoke", first["token_id"])
    assert (again.code, again.err.count("\n")) == (3, 1)
    with _open(workspace) as ws:
        assert authenticate_token(ws, second_token).name == "sam"
    assert cli("user", "disable", "sam").code == 0
    with _open(workspace) as ws:
        from segtrail.errors import Unauthenticated

        with pytest.raises(Unauthenticated):
            authenticate_token(ws, second_token)
    listed = cli("user", "list")
    assert "disabled" in listed.out
    twice = cli("user", "disable", "sam")
    assert twice.code == 3 and twice.err.startswith("error: user 'sam' is already disabled")


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["user", "add", "x", "--role", "boss"], "", 2, "'boss' is not one of"),
        (["user", "add", "x y", "--role", "viewer"], "", 2, "invalid user name 'x y'"),
        (["user", "add", "../root", "--role", "admin"], "", 2, "invalid user name"),
        (["user", "add", "x", "--role", "viewer", "--lens", "marketing"], "", 2, "for analysts"),
        (["user", "add", "x", "--role", "analyst", "--lens", "a/b"], "", 2, "invalid lens name"),
        (["user", "add", "x", "--role", "admin", "--password-stdin"], "short\n", 2, "at least 8"),
        (["user", "add", "x", "--role", "admin", "--password-stdin"], "", 2, "no password"),
        (["user", "add", "taken", "--role", "viewer"], "", 3, "user 'taken' already exists"),
        (["user", "disable", "nobody"], "", 2, "no user named 'nobody'"),
        (["user", "password", "nobody"], "long enough\n", 2, "no user named 'nobody'"),
        (["token", "create", "nobody"], "", 2, "no user named 'nobody'"),
        (["token", "revoke", "abcdef012345"], "", 2, "no API token with id"),
        (["token", "revoke", "../../x"], "", 2, "is not a token id"),
        (["user", "add"], "", 2, "Missing argument"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    workspace: Path,
    cli: Runner,
    tree_hash: TreeHash,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str,
    code: int,
    message: str,
) -> None:
    assert cli("user", "add", "taken", "--role", "viewer").code == 0
    before = tree_hash(workspace)
    _stdin(monkeypatch, stdin)
    result = cli(*args)
    assert result.code == code, result.err
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert message in result.err
    assert result.out == ""
    assert tree_hash(workspace) == before


def test_events_name_the_cli_author_and_hold_no_secret(workspace: Path, cli: Runner) -> None:
    token = cli("user", "add", "lee", "--role", "analyst", "--json").json()
    extra = cli("token", "create", "lee", "--json").json()
    assert cli("token", "revoke", extra["token_id"]).code == 0
    assert cli("user", "disable", "lee", env={"SEGTRAIL_AUTHOR": "boss"}).code == 0
    with _open(workspace) as ws:
        events = [e for e in ws.events() if e["subject"] == "lee"]
    assert [(e["action"], e["author"]) for e in reversed(events)] == [
        ("user-add", "tester"),
        ("token-create", "tester"),
        ("token-revoke", "tester"),
        ("user-disable", "boss"),
    ]
    written = repr([e.to_dict() for e in events])
    assert token["token"].split("_", 2)[2] not in written
    assert extra["token"].split("_", 2)[2] not in written


def test_help_speaks_plainly(cli: Runner) -> None:
    result = cli("user", "add", "--help")
    assert result.code == 0
    for words in ("viewer: reads everything", "shown only once", "need not exist yet"):
        assert words in " ".join(result.out.split())


def test_concurrent_adds_of_one_name(workspace: Path) -> None:
    """Real processes race to add the same user: one wins, the others get a clean Conflict."""
    env = base_env()
    procs = [
        subprocess.Popen(
            [str(SEGTRAIL), "user", "add", "same", "--role", "viewer", "--json"],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 3, 3, 3], results
    for code, out, err in results:
        if code == 3:
            assert err == "error: user 'same' already exists\n"
            assert out == ""
    with _open(workspace) as ws:
        assert [u.name for u in ws.user_list()] == ["same"]
        assert [e["action"] for e in ws.events()].count("user-add") == 1


def test_role_grant_and_ungrant(workspace: Path, cli: Runner) -> None:
    token = cli("user", "add", "kim", "--role", "analyst", "--json").json()["token"]
    granted = cli("user", "grant", "kim", "--lens", "marketing", "--lens", "product")
    assert (granted.code, granted.out) == (0, "kim may change: marketing, product\n")
    ungranted = cli("user", "ungrant", "kim", "--lens", "product")
    assert (ungranted.code, ungranted.out) == (0, "kim may change: marketing\n")
    with _open(workspace) as ws:
        assert authenticate_token(ws, token).lenses == frozenset({"marketing"})
    role = cli("user", "role", "kim", "--role", "Admin")
    assert (role.code, role.out) == (0, "user kim is now admin\n")
    refused = cli("user", "grant", "kim", "--lens", "sales")
    assert refused.code == 2
    assert refused.err == "error: lens grants are for analysts; 'kim' is an admin (see --lens)\n"
