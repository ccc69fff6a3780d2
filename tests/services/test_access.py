"""Users, API tokens, roles, lens grants and browser sessions (services/access.py), on
SQLite and on PostgreSQL: only hashes are stored, tokens carry 32 random bytes, revoked
tokens and disabled users stop working at once, sessions expire, and the role/lens checks
follow the truth table written out below."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect, text

from segtrail.errors import Forbidden, InvalidInput, NotFound, SegtrailError, Unauthenticated
from segtrail.services import access
from segtrail.services.access import (
    Principal,
    Role,
    add_user,
    authenticate_token,
    create_token,
    disable_user,
    list_users,
    require_admin,
    require_write,
    revoke_token,
    session_principal,
    set_password,
    sign_in,
    sign_out,
)
from segtrail.services.workspace import Workspace

PASSWORD = "correct horse battery"
names = (f"user{i}" for i in itertools.count())  # a fresh user name for every test


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, databases) -> Iterator[Workspace]:
    workspace = Workspace.init(
        tmp_path_factory.mktemp("access") / "ws", author="cli-admin", database_url=databases.new()
    )
    yield workspace
    workspace.close()


def _secret(token: str) -> str:
    assert token.startswith("st_")
    return token.removeprefix("st_").split("_", 1)[1]


def _decoded(secret: str) -> bytes:
    return base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))


def _database_text(ws: Workspace) -> str:
    """Everything the metadata database holds: every row of every table as text, and on
    SQLite the database file's raw bytes too (checkpointed, so nothing hides in the WAL)."""
    engine = create_engine(ws.meta.url)
    try:
        with engine.connect() as connection:
            parts = [
                repr(row)
                for table in inspect(connection).get_table_names()
                for row in connection.execute(text(f'SELECT * FROM "{table}"'))
            ]
    finally:
        engine.dispose()
    if ws.meta.dialect == "sqlite":
        database = ws.dir / "segtrail.db"
        with contextlib.closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        parts.append(database.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def _rows(ws: Workspace, query: str) -> list[tuple]:
    with ws.meta.read() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


# --- secrets -------------------------------------------------------------------------------


def test_only_hashes_are_stored(ws: Workspace) -> None:
    name = next(names)
    created = add_user(ws, name, Role.ANALYST, ["marketing"], password=PASSWORD)
    second = create_token(ws, name)
    session = sign_in(ws, name, PASSWORD)
    secrets_shown = [
        created.token,
        _secret(created.token),
        second.token,
        _secret(second.token),
        PASSWORD,
        session.session_token,
        session.csrf_token,
    ]
    # the raw secret bytes, as hex too (a store that kept bytes would show them so)
    secrets_shown += [_decoded(_secret(t)).hex() for t in (created.token, second.token)]
    everything = _database_text(ws)
    assert [s for s in secrets_shown if s in everything] == []
    # ...while what is stored is the hash of each secret (so the test above is not vacuous)
    stored = dict(_rows(ws, "SELECT token_id, secret_hash FROM api_tokens"))
    assert stored[created.token_id] == hashlib.sha256(_secret(created.token).encode()).hexdigest()
    assert stored[second.token_id] == hashlib.sha256(_secret(second.token).encode()).hexdigest()
    (password_hash,) = _rows(
        ws,
        "SELECT p.password_hash FROM user_passwords p JOIN users u ON u.id = p.user_id "
        f"WHERE u.name = '{name}'",
    )[0]
    assert password_hash.startswith("$argon2id$")
    sessions = [r[0] for r in _rows(ws, "SELECT session_hash FROM web_sessions")]
    assert hashlib.sha256(session.session_token.encode()).hexdigest() in sessions


def test_tokens_carry_32_random_bytes(ws: Workspace) -> None:
    name = next(names)
    tokens = [add_user(ws, name, Role.VIEWER).token] + [
        create_token(ws, name).token for _ in range(5)
    ]
    secrets_ = [_decoded(_secret(t)) for t in tokens]
    assert all(len(s) >= 32 for s in secrets_)
    assert len(set(secrets_)) == len(secrets_)
    assert len({t.split("_")[1] for t in tokens}) == len(tokens)  # distinct public ids
    for token in tokens:
        assert authenticate_token(ws, token).name == name


# --- tokens --------------------------------------------------------------------------------


def test_token_authenticates_as_its_user_with_role_and_grants(ws: Workspace) -> None:
    name = next(names)
    created = add_user(ws, name, "analyst", ["product", "marketing", "product"])
    assert created.lenses == ["marketing", "product"]
    assert authenticate_token(ws, created.token) == Principal(
        name, Role.ANALYST, frozenset({"marketing", "product"})
    )


def test_revoked_token_is_refused_and_others_still_work(ws: Workspace) -> None:
    name = next(names)
    first = add_user(ws, name, Role.ANALYST)
    second = create_token(ws, name)
    assert revoke_token(ws, first.token_id).user == name
    with pytest.raises(Unauthenticated):
        authenticate_token(ws, first.token)
    assert authenticate_token(ws, second.token).name == name
    with pytest.raises(SegtrailError, match="already revoked"):
        revoke_token(ws, first.token_id)
    with pytest.raises(NotFound):
        revoke_token(ws, "000000000000")


def test_disabled_user_is_refused_at_once(ws: Workspace) -> None:
    name = next(names)
    created = add_user(ws, name, Role.ADMIN, password=PASSWORD)
    other = create_token(ws, name)
    session = sign_in(ws, name, PASSWORD)
    assert authenticate_token(ws, other.token).role == Role.ADMIN
    disable_user(ws, name)
    for token in (created.token, other.token):
        with pytest.raises(Unauthenticated):
            authenticate_token(ws, token)
    with pytest.raises(Unauthenticated):
        session_principal(ws, session.session_token)
    with pytest.raises(Unauthenticated):
        sign_in(ws, name, PASSWORD)
    with pytest.raises(InvalidInput, match="disabled"):
        create_token(ws, name)
    assert [u.status for u in list_users(ws) if u.name == name] == ["disabled"]


def test_forged_tokens_are_refused(ws: Workspace) -> None:
    created = add_user(ws, next(names), Role.VIEWER)
    token_id = created.token_id
    secret = _secret(created.token)
    flipped = ("A" if secret[0] != "A" else "B") + secret[1:]
    for forged in (
        f"st_{token_id}_{flipped}",  # right id, wrong secret
        f"st_{token_id}_",
        f"st_ffffffffffff_{secret}",  # right secret under an unknown id
        f"st_{token_id}",
        secret,
        "",
        f"Bearer {created.token}",
    ):
        with pytest.raises(Unauthenticated):
            authenticate_token(ws, forged)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_any_text_is_refused_cleanly(ws: Workspace, token: str) -> None:
    """Reference: no token was issued in this workspace, so every text must be refused with
    Unauthenticated (never another error)."""
    with pytest.raises(Unauthenticated):
        authenticate_token(ws, token)


# --- passwords and sessions ----------------------------------------------------------------


def test_sign_in_and_out(ws: Workspace) -> None:
    name = next(names)
    add_user(ws, name, Role.ANALYST, ["sales"], password=PASSWORD)
    session = sign_in(ws, name, PASSWORD)
    again = session_principal(ws, session.session_token)
    assert again.principal == Principal(name, Role.ANALYST, frozenset({"sales"}))
    assert again.csrf_token == session.csrf_token
    assert len(session.csrf_token) >= 43 and session.csrf_token != session.session_token
    other = sign_in(ws, name, PASSWORD)
    assert other.session_token != session.session_token
    assert other.csrf_token != session.csrf_token  # a CSRF token is bound to its session
    sign_out(ws, session.session_token)
    with pytest.raises(Unauthenticated):
        session_principal(ws, session.session_token)
    assert session_principal(ws, other.session_token).principal.name == name
    sign_out(ws, session.session_token)  # already ended: nothing happens


def test_wrong_sign_ins_get_one_message(ws: Workspace) -> None:
    with_password = next(names)
    without_password = next(names)
    add_user(ws, with_password, Role.VIEWER, password=PASSWORD)
    add_user(ws, without_password, Role.VIEWER)
    messages = set()
    for name, password in (
        (with_password, PASSWORD + "x"),
        (with_password, ""),
        (without_password, PASSWORD),
        ("nobody", PASSWORD),
        ("../etc", PASSWORD),
    ):
        with pytest.raises(Unauthenticated) as caught:
            sign_in(ws, name, password)
        messages.add(str(caught.value))
    assert messages == {"wrong user name or password"}


def test_sessions_expire(ws: Workspace) -> None:
    name = next(names)
    add_user(ws, name, Role.VIEWER, password=PASSWORD)
    short = sign_in(ws, name, PASSWORD, lifetime=timedelta(seconds=1))
    assert session_principal(ws, short.session_token).principal.name == name
    time.sleep(1.2)
    with pytest.raises(Unauthenticated):
        session_principal(ws, short.session_token)
    # the next sign-in removes expired sessions
    short_hash = hashlib.sha256(short.session_token.encode()).hexdigest()
    assert (short_hash,) in _rows(ws, "SELECT session_hash FROM web_sessions")
    sign_in(ws, name, PASSWORD)
    assert (short_hash,) not in _rows(ws, "SELECT session_hash FROM web_sessions")


def test_new_password_replaces_the_old_and_ends_sessions(ws: Workspace) -> None:
    name = next(names)
    add_user(ws, name, Role.VIEWER, password=PASSWORD)
    session = sign_in(ws, name, PASSWORD)
    set_password(ws, name, "a new password")
    with pytest.raises(Unauthenticated):
        session_principal(ws, session.session_token)
    with pytest.raises(Unauthenticated):
        sign_in(ws, name, PASSWORD)
    assert sign_in(ws, name, "a new password").principal.name == name
    with pytest.raises(InvalidInput, match="at least 8"):
        set_password(ws, name, "short")
    with pytest.raises(NotFound):
        set_password(ws, "nobody-here", "long enough")


# --- users ---------------------------------------------------------------------------------


def test_bad_users_are_refused_and_nothing_is_recorded(ws: Workspace) -> None:
    before = ws.meta.events.count()
    taken = next(names)
    add_user(ws, taken, Role.VIEWER)
    cases = [
        ((taken, Role.ADMIN), SegtrailError, "already exists"),
        (("x y", Role.VIEWER), SegtrailError, "invalid user name"),
        (("../admin", Role.VIEWER), SegtrailError, "invalid user name"),
        ((next(names), "boss"), InvalidInput, "unknown role 'boss'"),
        ((next(names), Role.VIEWER, ["marketing"]), InvalidInput, "lens grants are for analysts"),
        ((next(names), Role.ANALYST, ["bad lens"]), SegtrailError, "invalid lens name"),
        ((next(names), Role.ANALYST, (), "short"), InvalidInput, "at least 8"),
    ]
    for args, error, message in cases:
        with pytest.raises(error, match=message):
            add_user(ws, *args)
    assert ws.meta.events.count() == before + 1


def test_a_grant_may_name_a_lens_that_does_not_exist_yet(ws: Workspace) -> None:
    created = add_user(ws, next(names), Role.ANALYST, ["not-yet-segmented"])
    principal = authenticate_token(ws, created.token)
    require_write(principal, "not-yet-segmented")


def test_events_record_the_author_and_no_secret(ws: Workspace) -> None:
    name = next(names)
    created = add_user(ws, name, Role.ANALYST, ["marketing"], password=PASSWORD)
    token = create_token(ws, name)
    revoke_token(ws, token.token_id)
    disable_user(ws, name)
    mine = [e for e in ws.events(limit=10) if e["subject"] == name]
    assert [e["action"] for e in reversed(mine)] == [
        "user-add",
        "token-create",
        "token-revoke",
        "user-disable",
    ]
    assert {e["author"] for e in mine} == {"cli-admin"}
    assert mine[-1]["details"] == {
        "role": "analyst",
        "lenses": ["marketing"],
        "password": True,
        "token": created.token_id,
    }
    written = repr([e.to_dict() for e in mine])
    for secret in (created.token, _secret(created.token), token.token, PASSWORD):
        assert secret not in written


def test_list_users(ws: Workspace) -> None:
    name = next(names)
    created = add_user(ws, name, Role.ANALYST, ["b", "a"])
    extra = create_token(ws, name)
    revoke_token(ws, created.token_id)
    (info,) = [u for u in list_users(ws) if u.name == name]
    assert info.to_dict() | {"created_at": None} == {
        "name": name,
        "role": "analyst",
        "status": "active",
        "lenses": ["a", "b"],
        "has_password": False,
        "created_at": None,
        "created_by": "cli-admin",
        "tokens": [
            {
                "token_id": created.token_id,
                "created_at": info.created_at,
                "created_by": "cli-admin",
                "revoked": True,
            },
            {
                "token_id": extra.token_id,
                "created_at": info.tokens[1].created_at,
                "created_by": "cli-admin",
                "revoked": False,
            },
        ],
    }


# --- roles and grants: the truth table -----------------------------------------------------

# (role, where the change is) -> may write. "none": strategies and campaigns (lens None);
# "granted": a lens in the user's grants; "other": a lens not granted.
MAY_WRITE = {
    ("viewer", "none"): False,
    ("viewer", "granted"): False,
    ("viewer", "other"): False,
    ("analyst", "none"): True,
    ("analyst", "granted"): True,
    ("analyst", "other"): False,
    ("admin", "none"): True,
    ("admin", "granted"): True,
    ("admin", "other"): True,
}
MAY_ADMINISTER = {"viewer": False, "analyst": False, "admin": True}
LENSES = ["marketing", "product", "sales", "web"]


def _allowed(check, *args) -> bool:
    try:
        check(*args)
    except Forbidden:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    role=st.sampled_from(["viewer", "analyst", "admin"]),
    grants=st.frozensets(st.sampled_from(LENSES)),
    lens=st.one_of(st.none(), st.sampled_from(LENSES)),
)
def test_role_and_lens_matrix(role: str, grants: frozenset[str], lens: str | None) -> None:
    principal = Principal("someone", Role(role), grants)
    where = "none" if lens is None else ("granted" if lens in grants else "other")
    assert _allowed(require_write, principal, lens) == MAY_WRITE[(role, where)]
    assert _allowed(require_admin, principal) == MAY_ADMINISTER[role]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    role=st.sampled_from(["viewer", "analyst", "admin"]),
    grants=st.lists(st.sampled_from(LENSES), max_size=4),
    lens=st.one_of(st.none(), st.sampled_from(LENSES)),
)
def test_recorded_grants_decide_writes(
    ws: Workspace, role: str, grants: list[str], lens: str | None
) -> None:
    """The same table, through users recorded in the workspace and their tokens."""
    if role != "analyst":
        grants = []
    created = add_user(ws, next(names), role, grants)
    principal = authenticate_token(ws, created.token)
    assert principal.lenses == frozenset(grants)
    where = "none" if lens is None else ("granted" if lens in grants else "other")
    assert _allowed(require_write, principal, lens) == MAY_WRITE[(role, where)]
    assert _allowed(require_admin, principal) == MAY_ADMINISTER[role]


def test_forbidden_messages_say_what_to_ask_for() -> None:
    with pytest.raises(Forbidden, match="viewer and can only read"):
        require_write(Principal("vic", Role.VIEWER, frozenset()), None)
    with pytest.raises(Forbidden, match=r"'product' \(lenses granted: marketing\)"):
        require_write(Principal("ana", Role.ANALYST, frozenset({"marketing"})), "product")
    with pytest.raises(Forbidden, match="only an admin"):
        require_admin(Principal("ana", Role.ANALYST, frozenset()))


def test_password_limits() -> None:
    with pytest.raises(InvalidInput, match="too long"):
        access.hash_password("x" * (access.PASSWORD_MAX + 1))


def test_users_table_is_history(tmp_path: Path) -> None:
    """web_sessions takes DELETE (sign-out); the users' history tables do not."""
    with Workspace.init(tmp_path / "ws", author="a") as w:
        add_user(w, "ana", Role.VIEWER, password=PASSWORD)
        session = sign_in(w, "ana", PASSWORD)
        sign_out(w, session.session_token)
        assert _rows(w, "SELECT count(*) FROM web_sessions") == [(0,)]
        with pytest.raises(Exception, match="append-only"), w.meta.engine.begin() as c:
            c.execute(text("DELETE FROM users"))


def test_role_and_grant_changes_take_effect_at_once(ws: Workspace) -> None:
    name = next(names)
    created = add_user(ws, name, Role.ANALYST, ["marketing"])
    assert access.grant_lenses(ws, name, ["product", "marketing"]).lenses == [
        "marketing",
        "product",
    ]
    require_write(authenticate_token(ws, created.token), "product")
    assert access.withdraw_lenses(ws, name, ["marketing"]).lenses == ["product"]
    with pytest.raises(Forbidden):
        require_write(authenticate_token(ws, created.token), "marketing")
    assert access.set_role(ws, name, "viewer").role == Role.VIEWER
    with pytest.raises(Forbidden):
        require_write(authenticate_token(ws, created.token), "product")
    with pytest.raises(InvalidInput, match="lens grants are for analysts"):
        access.grant_lenses(ws, name, ["sales"])
    with pytest.raises(SegtrailError, match="already a viewer"):
        access.set_role(ws, name, "viewer")
    assert access.set_role(ws, name, "admin").role == Role.ADMIN
    require_admin(authenticate_token(ws, created.token))
    actions = [e["action"] for e in ws.events(limit=20) if e["subject"] == name]
    assert list(reversed(actions)) == [
        "user-add",
        "lens-grant",
        "lens-revoke",
        "user-role",
        "user-role",
    ]
