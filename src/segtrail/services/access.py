"""Who may do what on the team server: users, API tokens, roles, lens grants, sign-in.

Roles: a viewer reads everything; an analyst also writes, but only in the lenses granted
(plus strategies and campaigns, which belong to no lens); an admin does everything,
managing users included. A grant may name a lens that has no segmentation yet: lenses come
into being with their first segmentation, so an admin can set a team up before it starts.

Secrets are shown once and never stored:
- an API token is `st_<id>_<secret>`: the id is public (listed, used to revoke), the secret
  is 32 random bytes (`secrets`) kept only as its SHA-256; checking compares digests in
  constant time;
- a password is kept as its argon2id hash (argon2-cffi, salted, memory-hard);
- a browser session is 32 random bytes kept as its SHA-256, with an expiry; its CSRF token
  is an HMAC of the session secret, so it needs no storage and cannot be guessed without
  the cookie.
Every check reads the user's latest state, so disabling a user stops their tokens and
sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from segtrail.errors import Forbidden, InvalidInput, SegtrailError, Unauthenticated
from segtrail.services.refs import check_name
from segtrail.services.results import Result
from segtrail.store.users import ACTIVE, GRANTED, REVOKED, Credential, NewToken, UserRecord

if TYPE_CHECKING:
    from segtrail.services.workspace import Workspace

TOKEN_PREFIX = "st_"
SECRET_BYTES = 32  # entropy of a token or session secret
SESSION_LIFETIME = timedelta(hours=12)
PASSWORD_MIN = 8
PASSWORD_MAX = 1024  # argon2 takes any length; a megabyte "password" is an attack
TOKEN_ID_SHAPE = re.compile(r"[0-9a-f]{12}")
TOKEN_SHAPE = re.compile(r"st_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_\-]{43,100})")
BAD_TOKEN = "the API token is not valid (unknown, revoked, or its user is disabled)"
BAD_PASSWORD = "wrong user name or password"
BAD_SESSION = "not signed in (the session ended or expired); sign in again"


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The signed-in user as checks see them: name, role and granted lenses."""

    name: str
    role: Role
    lenses: frozenset[str]


@dataclass(frozen=True)
class UserCreated(Result):
    name: str
    role: Role
    lenses: list[str]
    token: str  # shown once; only its hash is kept
    token_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.name,
            "role": str(self.role),
            "lenses": list(self.lenses),
            "token": self.token,
            "token_id": self.token_id,
        }


@dataclass(frozen=True)
class TokenCreated(Result):
    name: str  # the user
    token: str  # shown once
    token_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.name, "token": self.token, "token_id": self.token_id}


@dataclass(frozen=True)
class TokenRevoked(Result):
    token_id: str
    user: str


@dataclass(frozen=True)
class UserDisabled(Result):
    user: str


@dataclass(frozen=True)
class TokenInfo(Result):
    token_id: str
    created_at: str
    created_by: str
    revoked: bool


@dataclass(frozen=True)
class UserInfo(Result):
    name: str
    role: Role
    status: str  # active | disabled
    lenses: list[str]
    has_password: bool
    created_at: str
    created_by: str
    tokens: list[TokenInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "role": str(self.role)}


@dataclass(frozen=True)
class WebSession:
    session_token: str  # the cookie value; only its hash is kept
    csrf_token: str  # what every form of this session must carry
    principal: Principal
    expires_at: str  # ISO 8601, UTC


# --- checks --------------------------------------------------------------------------------


def require_write(principal: Principal, lens: str | None) -> None:
    """May `principal` change things in `lens` (None: strategies and campaigns)?"""
    if principal.role == Role.ADMIN:
        return
    if principal.role == Role.VIEWER:
        raise Forbidden(
            f"{principal.name} is a viewer and can only read; an admin can make them an analyst"
        )
    if lens is not None and lens not in principal.lenses:
        granted = ", ".join(sorted(principal.lenses)) or "none"
        raise Forbidden(
            f"{principal.name} may not change the lens {lens!r} (lenses granted: {granted}); "
            "an admin can grant it"
        )


def require_admin(principal: Principal) -> None:
    if principal.role != Role.ADMIN:
        raise Forbidden(f"only an admin can do this; {principal.name} is {principal.role}")


# --- users and tokens ----------------------------------------------------------------------


def add_user(
    ws: Workspace,
    name: str,
    role: Role | str,
    lenses: Iterable[str] = (),
    password: str | None = None,
) -> UserCreated:
    """A new user with a role, lens grants (analysts only), an optional password for the
    browser, and a first API token, returned once."""
    check_name(name, "user")
    role = parse_role(role)
    granted = tuple(sorted({_lens_name(lens) for lens in lenses}))
    if granted and role != Role.ANALYST:
        raise InvalidInput(
            f"lens grants are for analysts: a {role} "
            + ("only reads" if role == Role.VIEWER else "already writes in every lens"),
            field="lens",
        )
    password_hash = hash_password(password) if password is not None else None
    token, new = _new_token()
    details = {
        "role": str(role),
        "lenses": list(granted),
        "password": password is not None,
        "token": new.token_id,
    }
    ws.meta.users.add(name, str(role), granted, password_hash, new, ws.author, details)
    return UserCreated(name, role, list(granted), token, new.token_id)


def create_token(ws: Workspace, name: str) -> TokenCreated:
    """Another API token for an existing, active user (e.g. one per script)."""
    check_name(name, "user")
    token, new = _new_token()
    ws.meta.users.add_token(name, new, ws.author)
    return TokenCreated(name, token, new.token_id)


def revoke_token(ws: Workspace, token_id: str) -> TokenRevoked:
    """The token stops working at once; the record of it stays."""
    token_id = token_id.strip()
    if token_id.startswith(TOKEN_PREFIX):  # the whole token pasted: its id is inside
        token_id = _split_token(token_id)[0]
    if not TOKEN_ID_SHAPE.fullmatch(token_id):
        raise InvalidInput(
            f"{token_id!r} is not a token id: ids are 12 characters of 0-9 and a-f, "
            "as `segtrail user list` shows them"
        )
    user = ws.meta.users.revoke_token(token_id, ws.author)
    return TokenRevoked(token_id, user)


def disable_user(ws: Workspace, name: str) -> UserDisabled:
    """The user can no longer sign in or use any token; their history stays."""
    check_name(name, "user")
    ws.meta.users.disable(name, ws.author)
    return UserDisabled(name)


def set_role(ws: Workspace, name: str, role: Role | str) -> UserInfo:
    """Change a user's role (a new row; the old role stays in the history)."""
    check_name(name, "user")
    ws.meta.users.set_role(name, str(parse_role(role)), ws.author)
    return _user(ws, name)


def grant_lenses(ws: Workspace, name: str, lenses: Iterable[str]) -> UserInfo:
    """Let an analyst change more lenses (they need not exist yet)."""
    return _change_grants(ws, name, lenses, GRANTED)


def withdraw_lenses(ws: Workspace, name: str, lenses: Iterable[str]) -> UserInfo:
    """Stop an analyst from changing these lenses; what they did there stays."""
    return _change_grants(ws, name, lenses, REVOKED)


def _change_grants(ws: Workspace, name: str, lenses: Iterable[str], state: str) -> UserInfo:
    check_name(name, "user")
    wanted = tuple(sorted({_lens_name(lens) for lens in lenses}))
    if not wanted:
        raise InvalidInput("name at least one lens", field="lens")
    ws.meta.users.grant(name, wanted, state, ws.author)
    return _user(ws, name)


def _user(ws: Workspace, name: str) -> UserInfo:
    record = ws.meta.users.get(name)
    assert record is not None  # just written
    return _info(record)


def set_password(ws: Workspace, name: str, password: str) -> None:
    check_name(name, "user")
    ws.meta.users.set_password(name, hash_password(password), ws.author)


def list_users(ws: Workspace) -> list[UserInfo]:
    return [_info(record) for record in ws.meta.users.list()]


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r}: use one of {choices}", field="role") from None


def _info(record: UserRecord) -> UserInfo:
    return UserInfo(
        name=record.name,
        role=Role(record.role),
        status=record.status,
        lenses=list(record.lenses),
        has_password=record.has_password,
        created_at=record.created_at,
        created_by=record.created_by,
        tokens=[
            TokenInfo(t.token_id, t.created_at, t.created_by, t.revoked) for t in record.tokens
        ],
    )


# --- authentication ------------------------------------------------------------------------


def authenticate_token(ws: Workspace, token: str) -> Principal:
    """The user an API token belongs to; Unauthenticated if it is malformed, unknown,
    revoked, or its user is disabled."""
    token_id, secret = _split_token(token)
    credential = ws.meta.users.token_credential(token_id)
    # The digest is compared even for an unknown id, so timing says nothing about which ids exist.
    stored = credential.secret_hash if credential else "0" * 64
    if not hmac.compare_digest(_sha256(secret), stored) or credential is None:
        raise Unauthenticated(BAD_TOKEN)
    if credential.revoked or credential.status != ACTIVE:
        raise Unauthenticated(BAD_TOKEN)
    return _principal(credential)


def sign_in(
    ws: Workspace, name: str, password: str, *, lifetime: timedelta = SESSION_LIFETIME
) -> WebSession:
    """A browser session for a user with a password; Unauthenticated on a wrong name or
    password, a user without a password, or a disabled user (one message for all)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    credential = ws.meta.users.password_credential(name) if _is_name(name) else None
    stored = credential.secret_hash if credential else _dummy_hash()
    try:
        # Verified even for an unknown user (against a dummy hash): the time taken does
        # not tell which names exist.
        _hasher().verify(stored, password if isinstance(password, str) else "")
        verified = credential is not None
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified or credential is None or credential.status != ACTIVE:
        raise Unauthenticated(BAD_PASSWORD)
    session_token = secrets.token_urlsafe(SECRET_BYTES)
    expires_at = _iso(datetime.now(UTC) + lifetime)
    ws.meta.users.start_session(credential.user, _sha256(session_token), expires_at)
    return WebSession(session_token, csrf_for(session_token), _principal(credential), expires_at)


def session_principal(ws: Workspace, session_token: str) -> WebSession:
    """The session a cookie stands for; Unauthenticated if unknown, expired, ended, or
    its user is disabled."""
    if not isinstance(session_token, str) or not session_token:
        raise Unauthenticated(BAD_SESSION)
    credential = ws.meta.users.session_credential(_sha256(session_token))
    if credential is None or credential.status != ACTIVE or credential.expires_at is None:
        raise Unauthenticated(BAD_SESSION)
    if credential.expires_at <= _iso(datetime.now(UTC)):
        raise Unauthenticated(BAD_SESSION)
    return WebSession(
        session_token, csrf_for(session_token), _principal(credential), credential.expires_at
    )


def sign_out(ws: Workspace, session_token: str) -> None:
    """End a session (nothing happens for one already ended)."""
    if isinstance(session_token, str) and session_token:
        ws.meta.users.end_session(_sha256(session_token))


def csrf_for(session_token: str) -> str:
    """The CSRF token of a session: an HMAC of its secret (see the module doc)."""
    digest = hmac.new(session_token.encode(), b"segtrail csrf token", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise InvalidInput(
            f"the password is too short: use at least {PASSWORD_MIN} characters",
            field="password",
        )
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(
            f"the password is too long: at most {PASSWORD_MAX} characters", field="password"
        )
    return _hasher().hash(password)


# --- helpers -------------------------------------------------------------------------------


def _new_token() -> tuple[str, NewToken]:
    token_id = secrets.token_hex(6)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()
    return f"{TOKEN_PREFIX}{token_id}_{secret}", NewToken(token_id, _sha256(secret))


def _split_token(token: str) -> tuple[str, str]:
    """`st_<id>_<secret>` -> (id, secret); the id is hex, so the first '_' ends it."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated(BAD_TOKEN)
    # Checked for shape before any lookup: odd text (a NUL byte, a megabyte) never reaches
    # the database.
    match = TOKEN_SHAPE.fullmatch(token.strip())
    if match is None:
        raise Unauthenticated(BAD_TOKEN)
    return match["id"], match["secret"]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _principal(credential: Credential) -> Principal:
    return Principal(credential.user, Role(credential.role), frozenset(credential.lenses))


def _lens_name(lens: str) -> str:
    try:
        return check_name(lens, "lens")
    except SegtrailError as e:
        raise InvalidInput(str(e), field="lens") from None


def _is_name(name: str) -> bool:
    try:
        check_name(name, "user")
    except SegtrailError:
        return False
    return True


def _iso(moment: datetime) -> str:
    """The store's time format (utc_now): fixed width, so strings compare like times."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's (RFC 9106) defaults


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))
