"""Users, API tokens, lens grants and browser sessions in the metadata store itself
(store/users.py), with made-up hashes: every change is a new row with its event, the latest
row wins, refusals record nothing, and disabling a user or changing a password ends their
sessions. SQLite here, with a fresh database per test; the same SQL runs on PostgreSQL in
tests/services/test_access.py (through the services, with real hashes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.store.conftest import write_locked

from segtrail.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from segtrail.store import users
from segtrail.store.metadata import MetadataStore
from segtrail.store.users import Credential, NewToken, TokenRecord

LATER = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
EARLIER = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def _token(n: int) -> NewToken:
    return NewToken(token_id=f"tok{n}", secret_hash=f"{n:064x}")


def _add(
    db: MetadataStore,
    name: str,
    role: str = "analyst",
    lenses: tuple[str, ...] = (),
    password: str | None = "pw-hash",
    token: int = 1,
) -> None:
    db.users.add(name, role, lenses, password, _token(token), "admin", {"role": role})


def _events(db: MetadataStore) -> list[tuple[str, str, str, dict]]:
    """(author, action, subject, details) of every event, oldest first."""
    return [(e["author"], e["action"], e["subject"], e["details"]) for e in db.events.list()][::-1]


def test_a_new_user_reads_back_with_everything_it_was_given(db: MetadataStore) -> None:
    _add(db, "ana", "analyst", ("sales", "marketing", "ops"), token=7)
    user = db.users.get("ana")
    assert user is not None
    event = db.events.list()[0]
    assert (user.name, user.role, user.status) == ("ana", "analyst", "active")
    assert user.lenses == ("marketing", "ops", "sales")
    assert user.has_password
    assert (user.created_at, user.created_by) == (event["at"], "admin")
    assert user.tokens == (TokenRecord("tok7", "ana", event["at"], "admin", False),)
    assert _events(db) == [("admin", "user-add", "ana", {"role": "analyst"})]
    assert db.users.token_credential("tok7") == Credential(
        user="ana",
        role="analyst",
        status="active",
        lenses=("marketing", "ops", "sales"),
        secret_hash=f"{7:064x}",
    )
    assert db.users.password_credential("ana") == Credential(
        "ana", "analyst", "active", ("marketing", "ops", "sales"), "pw-hash"
    )


def test_a_user_without_password_has_no_password_credential(db: MetadataStore) -> None:
    _add(db, "bot", "viewer", password=None)
    user = db.users.get("bot")
    assert user is not None and not user.has_password
    assert db.users.password_credential("bot") is None
    assert db.users.password_credential("nobody") is None


def test_a_taken_name_is_refused_and_nothing_is_recorded(db: MetadataStore) -> None:
    _add(db, "ana", token=1)
    with pytest.raises(Conflict, match=r"^user 'ana' already exists$"):
        _add(db, "ana", "admin", token=2)
    assert db.users.token_credential("tok2") is None
    assert [u.role for u in db.users.list()] == ["analyst"]
    assert len(_events(db)) == 1


def test_list_is_in_the_order_users_were_added(db: MetadataStore) -> None:
    for n, name in enumerate(["zoe", "ana", "mia"]):
        _add(db, name, token=n)
    assert [u.name for u in db.users.list()] == ["zoe", "ana", "mia"]
    assert db.users.get("nobody") is None
    assert db.users.list()[1] == db.users.get("ana")


def test_unknown_users_are_not_found(db: MetadataStore) -> None:
    message = r"^no user named 'ghost' \(see `segtrail user list`\)$"
    for change in (
        lambda: db.users.disable("ghost", "admin"),
        lambda: db.users.set_role("ghost", "admin", "admin"),
        lambda: db.users.grant("ghost", ("x",), "granted", "admin"),
        lambda: db.users.set_password("ghost", "h", "admin"),
        lambda: db.users.add_token("ghost", _token(9), "admin"),
        lambda: db.users.start_session("ghost", "s" * 64, LATER),
    ):
        with pytest.raises(NotFound, match=message):
            change()
    assert _events(db) == []


def test_disable_keeps_the_role_and_ends_only_that_users_sessions(db: MetadataStore) -> None:
    _add(db, "ana", "admin", token=1)
    _add(db, "bob", token=2)
    db.users.start_session("ana", "a" * 64, LATER)
    db.users.start_session("bob", "b" * 64, LATER)
    db.users.disable("ana", "root")
    user = db.users.get("ana")
    assert user is not None and (user.role, user.status) == ("admin", "disabled")
    assert db.users.session_credential("a" * 64) is None
    assert db.users.session_credential("b" * 64) is not None
    credential = db.users.token_credential("tok1")
    assert credential is not None and (credential.role, credential.status) == ("admin", "disabled")
    assert _events(db)[-1] == ("root", "user-disable", "ana", {})
    with pytest.raises(Conflict, match=r"^user 'ana' is already disabled$"):
        db.users.disable("ana", "root")
    assert len(_events(db)) == 3


def test_a_disabled_user_takes_no_password_token_or_session(db: MetadataStore) -> None:
    _add(db, "ana", token=1)
    db.users.disable("ana", "admin")
    recorded = len(_events(db))
    with pytest.raises(
        InvalidInput, match=r"^user 'ana' is disabled; a password would not be used"
    ):
        db.users.set_password("ana", "new-hash", "admin")
    with pytest.raises(InvalidInput, match=r"^user 'ana' is disabled; a token would not work$"):
        db.users.add_token("ana", _token(2), "admin")
    with pytest.raises(Unauthenticated, match=r"^wrong user name or password$"):
        db.users.start_session("ana", "a" * 64, LATER)
    assert db.users.password_credential("ana").secret_hash == "pw-hash"  # type: ignore[union-attr]
    assert db.users.token_credential("tok2") is None
    assert db.users.session_credential("a" * 64) is None
    assert len(_events(db)) == recorded


def test_set_role_keeps_the_status_and_refuses_the_same_role(db: MetadataStore) -> None:
    _add(db, "ana", "viewer", token=1)
    db.users.disable("ana", "admin")
    db.users.set_role("ana", "admin", "root")
    user = db.users.get("ana")
    assert user is not None and (user.role, user.status) == ("admin", "disabled")
    assert _events(db)[-1] == ("root", "user-role", "ana", {"role": "admin", "was": "viewer"})
    with pytest.raises(Conflict, match=r"^user 'ana' is already an admin$"):
        db.users.set_role("ana", "admin", "root")
    _add(db, "bob", "viewer", token=2)
    with pytest.raises(Conflict, match=r"^user 'bob' is already a viewer$"):
        db.users.set_role("bob", "viewer", "root")


def test_grants_change_only_what_differs_and_the_latest_row_wins(db: MetadataStore) -> None:
    _add(db, "ana", "analyst", ("sales",), token=1)
    assert db.users.grant("ana", ("ops", "sales", "ops", "hr"), "granted", "root") == [
        "hr",
        "ops",
    ]
    assert _events(db)[-1] == ("root", "lens-grant", "ana", {"lenses": ["hr", "ops"]})
    assert db.users.get("ana").lenses == ("hr", "ops", "sales")  # type: ignore[union-attr]
    recorded = len(_events(db))
    assert db.users.grant("ana", ("sales",), "granted", "root") == []
    assert db.users.grant("ana", ("finance",), "revoked", "root") == []
    assert len(_events(db)) == recorded  # nothing changed, nothing recorded
    assert db.users.grant("ana", ("sales", "hr", "finance"), "revoked", "root") == ["hr", "sales"]
    assert _events(db)[-1] == ("root", "lens-revoke", "ana", {"lenses": ["hr", "sales"]})
    assert db.users.get("ana").lenses == ("ops",)  # type: ignore[union-attr]
    assert db.users.grant("ana", ("sales",), "granted", "root") == ["sales"]  # granted again
    assert db.users.token_credential("tok1").lenses == ("ops", "sales")  # type: ignore[union-attr]


@pytest.mark.parametrize(("role", "article"), [("admin", "an"), ("viewer", "a")])
def test_only_analysts_take_grants(db: MetadataStore, role: str, article: str) -> None:
    _add(db, "ana", role)
    with pytest.raises(
        InvalidInput, match=rf"^lens grants are for analysts; 'ana' is {article} {role}$"
    ) as e:
        db.users.grant("ana", ("sales",), "granted", "root")
    assert e.value.field == "lens"
    assert db.users.get("ana").lenses == ()  # type: ignore[union-attr]
    assert len(_events(db)) == 1


def test_a_new_password_replaces_the_old_and_ends_the_users_sessions(db: MetadataStore) -> None:
    _add(db, "ana", token=1)
    _add(db, "bob", token=2)
    db.users.start_session("ana", "a" * 64, LATER)
    db.users.start_session("bob", "b" * 64, LATER)
    db.users.set_password("ana", "new-hash", "ana")
    assert db.users.password_credential("ana").secret_hash == "new-hash"  # type: ignore[union-attr]
    assert db.users.session_credential("a" * 64) is None
    assert db.users.session_credential("b" * 64) is not None
    assert _events(db)[-1] == ("ana", "user-password", "ana", {})
    _add(db, "cy", password=None, token=3)
    db.users.set_password("cy", "first", "admin")
    assert db.users.get("cy").has_password  # type: ignore[union-attr]


def test_tokens_are_listed_oldest_first_and_revoked_one_by_one(db: MetadataStore) -> None:
    _add(db, "ana", token=1)
    db.users.add_token("ana", _token(2), "root")
    assert _events(db)[-1] == ("root", "token-create", "ana", {"token": "tok2"})
    assert db.users.revoke_token("tok1", "root") == "ana"
    assert _events(db)[-1] == ("root", "token-revoke", "ana", {"token": "tok1"})
    tokens = db.users.get("ana").tokens  # type: ignore[union-attr]
    assert [(t.token_id, t.created_by, t.revoked) for t in tokens] == [
        ("tok1", "admin", True),
        ("tok2", "root", False),
    ]
    assert db.users.token_credential("tok1").revoked  # type: ignore[union-attr]
    assert not db.users.token_credential("tok2").revoked  # type: ignore[union-attr]
    assert db.users.token_credential("tok2").secret_hash == f"{2:064x}"  # type: ignore[union-attr]
    assert db.users.token_credential("tok3") is None
    recorded = len(_events(db))
    with pytest.raises(Conflict, match=r"^token 'tok1' is already revoked$"):
        db.users.revoke_token("tok1", "root")
    with pytest.raises(
        NotFound, match=r"^no API token with id 'tok9' \(see `segtrail user list`\)$"
    ):
        db.users.revoke_token("tok9", "root")
    assert len(_events(db)) == recorded


def test_sessions_read_back_and_end(db: MetadataStore) -> None:
    _add(db, "ana", "analyst", ("sales",), token=1)
    db.users.start_session("ana", "a" * 64, LATER)
    db.users.start_session("ana", "c" * 64, LATER)
    assert db.users.session_credential("a" * 64) == Credential(
        "ana", "analyst", "active", ("sales",), "a" * 64, expires_at=LATER
    )
    db.users.end_session("a" * 64)
    assert db.users.session_credential("a" * 64) is None
    assert db.users.session_credential("c" * 64) is not None  # another session of hers
    assert db.users.session_credential("z" * 64) is None
    assert len(_events(db)) == 1  # sessions are not history


def test_a_sign_in_removes_expired_sessions_of_anyone(db: MetadataStore) -> None:
    _add(db, "ana", token=1)
    _add(db, "bob", token=2)
    db.users.start_session("bob", "new" + "b" * 61, LATER)
    db.users.start_session("bob", "old" + "b" * 61, EARLIER)
    assert db.users.session_credential("old" + "b" * 61) is not None  # still there ...
    db.users.start_session("ana", "a" * 64, LATER)
    assert db.users.session_credential("old" + "b" * 61) is None  # ... until the next sign-in
    assert db.users.session_credential("new" + "b" * 61) is not None
    assert db.users.session_credential("a" * 64) is not None


def test_a_session_whose_expiry_has_come_is_removed(
    db: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(db, "ana", token=1)
    now = "2030-01-01T12:00:00.000000Z"
    db.users.start_session("ana", "x" * 64, now)
    db.users.start_session("ana", "y" * 64, "2030-01-01T12:00:00.000001Z")
    monkeypatch.setattr(users, "utc_now", lambda: now)
    db.users.start_session("ana", "a" * 64, LATER)
    assert db.users.session_credential("x" * 64) is None
    assert db.users.session_credential("y" * 64) is not None


BUSY_CHANGES = {
    "user ana": lambda db: _add(db, "ana", token=2),
    "disabling user bob": lambda db: db.users.disable("bob", "admin"),
    "the role of user bob": lambda db: db.users.set_role("bob", "admin", "admin"),
    "the lenses of user bob": lambda db: db.users.grant("bob", ("ops",), "granted", "admin"),
    "the password of user bob": lambda db: db.users.set_password("bob", "h", "admin"),
    "a token for user bob": lambda db: db.users.add_token("bob", _token(3), "admin"),
    "revoking token tok1": lambda db: db.users.revoke_token("tok1", "admin"),
    "the sign-in": lambda db: db.users.start_session("bob", "b" * 64, LATER),
    "the sign-out": lambda db: db.users.end_session("b" * 64),
}


@pytest.mark.parametrize("what", BUSY_CHANGES)
def test_a_busy_database_says_what_was_not_recorded(
    db: MetadataStore, tmp_path: Path, what: str
) -> None:
    _add(db, "bob", token=1)
    with (
        write_locked(tmp_path / "segtrail.db"),
        pytest.raises(Conflict, match=rf"\(another writer\); {what} was not recorded, try again$"),
    ):
        BUSY_CHANGES[what](db)
    assert len(_events(db)) == 1
