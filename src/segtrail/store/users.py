"""Users of the team server, their API tokens, lens grants and browser sessions.

Only hashes reach this module: the services hash passwords (argon2), token secrets and
session cookies (SHA-256) before calling it, so no secret is ever in the database. Users,
states, passwords, tokens, revocations and grants are append-only history (the latest row
wins); web sessions are the one kind of row that is deleted (sign-out, expiry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select

from segtrail.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from segtrail.store import schema
from segtrail.store.metadata import utc_now

if TYPE_CHECKING:
    from segtrail.store.metadata import MetadataStore

ACTIVE = "active"
DISABLED = "disabled"
GRANTED = "granted"
REVOKED = "revoked"


@dataclass(frozen=True)
class NewToken:
    token_id: str  # public id, shown to people and used to revoke
    secret_hash: str  # SHA-256 hex of the secret


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    user: str
    created_at: str
    created_by: str
    revoked: bool


@dataclass(frozen=True)
class UserRecord:
    name: str
    role: str
    status: str  # active | disabled
    lenses: tuple[str, ...]  # granted lenses, sorted
    has_password: bool
    created_at: str
    created_by: str
    tokens: tuple[TokenRecord, ...]  # oldest first, revoked ones included


@dataclass(frozen=True)
class Credential:
    """What checking a token or a session needs: the stored hash and the user's current
    state, read in one snapshot."""

    user: str
    role: str
    status: str
    lenses: tuple[str, ...]
    secret_hash: str  # token: SHA-256 of its secret; session: its hash; password: argon2
    revoked: bool = False
    expires_at: str | None = None  # sessions only


class Users:
    def __init__(self, db: MetadataStore) -> None:
        self.db = db

    # --- writing -------------------------------------------------------------------------

    def add(
        self,
        name: str,
        role: str,
        lenses: tuple[str, ...],
        password_hash: str | None,
        token: NewToken,
        author: str,
        details: dict,
    ) -> None:
        """A new user with its role, grants, optional password and first API token, in one
        transaction. A name already taken (by anyone, also concurrently) is a Conflict."""
        u = schema.users

        def work(connection: Connection) -> None:
            if connection.execute(select(u.c.id).where(u.c.name == name)).first():
                raise Conflict(f"user {name!r} already exists")
            event_id = self.db.record_event(connection, author, "user-add", name, details)
            user_id = connection.execute(
                insert(u).values(name=name, event_id=event_id)
            ).inserted_primary_key[0]
            connection.execute(
                insert(schema.user_states).values(
                    user_id=user_id, role=role, status=ACTIVE, event_id=event_id
                )
            )
            for lens in lenses:
                connection.execute(
                    insert(schema.lens_grants).values(
                        user_id=user_id, lens=lens, state=GRANTED, event_id=event_id
                    )
                )
            if password_hash is not None:
                connection.execute(
                    insert(schema.user_passwords).values(
                        user_id=user_id, password_hash=password_hash, event_id=event_id
                    )
                )
            self._insert_token(connection, user_id, token, event_id)

        self.db.write(work, what=f"user {name}")

    def disable(self, name: str, author: str) -> None:
        """The user can no longer sign in; their tokens and sessions stop working at once
        (every check reads the latest state), and their open sessions are ended."""

        def work(connection: Connection) -> None:
            user_id, role, status = self._state(connection, name)
            if status == DISABLED:
                raise Conflict(f"user {name!r} is already disabled")
            event_id = self.db.record_event(connection, author, "user-disable", name, {})
            connection.execute(
                insert(schema.user_states).values(
                    user_id=user_id, role=role, status=DISABLED, event_id=event_id
                )
            )
            connection.execute(
                delete(schema.web_sessions).where(schema.web_sessions.c.user_id == user_id)
            )

        self.db.write(work, what=f"disabling user {name}")

    def set_role(self, name: str, role: str, author: str) -> None:
        def work(connection: Connection) -> None:
            user_id, old, status = self._state(connection, name)
            if old == role:
                raise Conflict(
                    f"user {name!r} is already {'an' if role == 'admin' else 'a'} {role}"
                )
            event_id = self.db.record_event(
                connection, author, "user-role", name, {"role": role, "was": old}
            )
            connection.execute(
                insert(schema.user_states).values(
                    user_id=user_id, role=role, status=status, event_id=event_id
                )
            )

        self.db.write(work, what=f"the role of user {name}")

    def grant(self, name: str, lenses: tuple[str, ...], state: str, author: str) -> list[str]:
        """Grant (state GRANTED) or withdraw (REVOKED) lenses; returns the lenses whose grant
        changed (a lens already in that state is left alone). Only analysts take grants."""

        def work(connection: Connection) -> list[str]:
            user_id, role, _status = self._state(connection, name)
            if role != "analyst":
                raise InvalidInput(
                    f"lens grants are for analysts; {name!r} is {'an' if role == 'admin' else 'a'} "
                    f"{role}",
                    field="lens",
                )
            current = set(self._lenses(connection, user_id))
            changed = sorted(
                lens for lens in set(lenses) if (lens in current) != (state == GRANTED)
            )
            if not changed:
                return []
            action = "lens-grant" if state == GRANTED else "lens-revoke"
            event_id = self.db.record_event(connection, author, action, name, {"lenses": changed})
            for lens in changed:
                connection.execute(
                    insert(schema.lens_grants).values(
                        user_id=user_id, lens=lens, state=state, event_id=event_id
                    )
                )
            return changed

        return self.db.write(work, what=f"the lenses of user {name}")

    def set_password(self, name: str, password_hash: str, author: str) -> None:
        def work(connection: Connection) -> None:
            user_id, _role, status = self._state(connection, name)
            if status == DISABLED:
                raise InvalidInput(f"user {name!r} is disabled; a password would not be used")
            event_id = self.db.record_event(connection, author, "user-password", name, {})
            connection.execute(
                insert(schema.user_passwords).values(
                    user_id=user_id, password_hash=password_hash, event_id=event_id
                )
            )
            # A new password ends the sessions signed in with the old one.
            connection.execute(
                delete(schema.web_sessions).where(schema.web_sessions.c.user_id == user_id)
            )

        self.db.write(work, what=f"the password of user {name}")

    def add_token(self, name: str, token: NewToken, author: str) -> None:
        def work(connection: Connection) -> None:
            user_id, _role, status = self._state(connection, name)
            if status == DISABLED:
                raise InvalidInput(f"user {name!r} is disabled; a token would not work")
            event_id = self.db.record_event(
                connection, author, "token-create", name, {"token": token.token_id}
            )
            self._insert_token(connection, user_id, token, event_id)

        self.db.write(work, what=f"a token for user {name}")

    def revoke_token(self, token_id: str, author: str) -> str:
        """Revoke a token by its public id; returns the name of its user."""
        t, r, u = schema.api_tokens, schema.token_revocations, schema.users

        def work(connection: Connection) -> str:
            row = connection.execute(
                select(t.c.id, u.c.name, r.c.id.label("revoked"))
                .join(u, t.c.user_id == u.c.id)
                .outerjoin(r, r.c.api_token_id == t.c.id)
                .where(t.c.token_id == token_id)
            ).first()
            if row is None:
                raise NotFound(f"no API token with id {token_id!r} (see `segtrail user list`)")
            if row.revoked is not None:
                raise Conflict(f"token {token_id!r} is already revoked")
            event_id = self.db.record_event(
                connection, author, "token-revoke", row.name, {"token": token_id}
            )
            connection.execute(insert(r).values(api_token_id=row.id, event_id=event_id))
            return str(row.name)

        return self.db.write(work, what=f"revoking token {token_id}")

    @staticmethod
    def _insert_token(connection: Connection, user_id: int, token: NewToken, event_id: int) -> None:
        connection.execute(
            insert(schema.api_tokens).values(
                token_id=token.token_id,
                user_id=user_id,
                secret_hash=token.secret_hash,
                event_id=event_id,
            )
        )

    def _state(self, connection: Connection, name: str) -> tuple[int, str, str]:
        """(user id, role, status) now, or NotFound."""
        u, s = schema.users, schema.user_states
        row = connection.execute(
            select(u.c.id, s.c.role, s.c.status)
            .join(s, s.c.user_id == u.c.id)
            .where(u.c.name == name)
            .order_by(s.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            raise NotFound(f"no user named {name!r} (see `segtrail user list`)")
        return int(row.id), str(row.role), str(row.status)

    # --- sessions ------------------------------------------------------------------------

    def start_session(self, name: str, session_hash: str, expires_at: str) -> None:
        """Record a browser session of an active user; expired sessions of anyone are
        removed in the same transaction (they are useless and only grow the table)."""
        w = schema.web_sessions

        def work(connection: Connection) -> None:
            user_id, _role, status = self._state(connection, name)
            if status != ACTIVE:  # disabled between the password check and now
                raise Unauthenticated("wrong user name or password")
            now = utc_now()
            connection.execute(delete(w).where(w.c.expires_at <= now))
            connection.execute(
                insert(w).values(
                    session_hash=session_hash,
                    user_id=user_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

        self.db.write(work, what="the sign-in")

    def end_session(self, session_hash: str) -> None:
        w = schema.web_sessions
        self.db.write(
            lambda c: c.execute(delete(w).where(w.c.session_hash == session_hash)),
            what="the sign-out",
        )

    # --- reading -------------------------------------------------------------------------

    def token_credential(self, token_id: str) -> Credential | None:
        t, r = schema.api_tokens, schema.token_revocations
        with self.db.read() as connection:
            row = connection.execute(
                select(t.c.user_id, t.c.secret_hash, r.c.id.label("revoked"))
                .outerjoin(r, r.c.api_token_id == t.c.id)
                .where(t.c.token_id == token_id)
            ).first()
            if row is None:
                return None
            return self._credential(
                connection, int(row.user_id), row.secret_hash, revoked=row.revoked is not None
            )

    def session_credential(self, session_hash: str) -> Credential | None:
        w = schema.web_sessions
        with self.db.read() as connection:
            row = connection.execute(
                select(w.c.user_id, w.c.session_hash, w.c.expires_at).where(
                    w.c.session_hash == session_hash
                )
            ).first()
            if row is None:
                return None
            return self._credential(
                connection, int(row.user_id), row.session_hash, expires_at=row.expires_at
            )

    def password_credential(self, name: str) -> Credential | None:
        """The user's current password hash (None: unknown user or no password set)."""
        u, p = schema.users, schema.user_passwords
        with self.db.read() as connection:
            row = connection.execute(
                select(u.c.id, p.c.password_hash)
                .join(p, p.c.user_id == u.c.id)
                .where(u.c.name == name)
                .order_by(p.c.id.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            return self._credential(connection, int(row.id), row.password_hash)

    def _credential(
        self,
        connection: Connection,
        user_id: int,
        secret_hash: str,
        *,
        revoked: bool = False,
        expires_at: str | None = None,
    ) -> Credential:
        u, s = schema.users, schema.user_states
        state = connection.execute(
            select(u.c.name, s.c.role, s.c.status)
            .join(s, s.c.user_id == u.c.id)
            .where(u.c.id == user_id)
            .order_by(s.c.id.desc())
            .limit(1)
        ).one()
        return Credential(
            user=state.name,
            role=state.role,
            status=state.status,
            lenses=self._lenses(connection, user_id),
            secret_hash=secret_hash,
            revoked=revoked,
            expires_at=expires_at,
        )

    @staticmethod
    def _lenses(connection: Connection, user_id: int) -> tuple[str, ...]:
        g = schema.lens_grants
        latest = (
            select(func.max(g.c.id))
            .where(g.c.user_id == user_id)
            .group_by(g.c.lens)
            .scalar_subquery()
        )
        rows = connection.execute(
            select(g.c.lens).where(g.c.id.in_(latest), g.c.state == GRANTED)
        ).scalars()
        return tuple(sorted(rows))

    def list(self) -> list[UserRecord]:
        """Every user, in the order they were added, with their current state."""
        u, e = schema.users, schema.events
        with self.db.read() as connection:
            users = connection.execute(
                select(u.c.id, u.c.name, e.c.at, e.c.author)
                .join(e, u.c.event_id == e.c.id)
                .order_by(u.c.id)
            ).all()
            return [self._record(connection, row) for row in users]

    def get(self, name: str) -> UserRecord | None:
        u, e = schema.users, schema.events
        with self.db.read() as connection:
            row = connection.execute(
                select(u.c.id, u.c.name, e.c.at, e.c.author)
                .join(e, u.c.event_id == e.c.id)
                .where(u.c.name == name)
            ).first()
            return self._record(connection, row) if row else None

    def _record(self, connection: Connection, user: Any) -> UserRecord:
        user_id = int(user.id)
        s, p, t, r, e = (
            schema.user_states,
            schema.user_passwords,
            schema.api_tokens,
            schema.token_revocations,
            schema.events,
        )
        state = connection.execute(
            select(s.c.role, s.c.status)
            .where(s.c.user_id == user_id)
            .order_by(s.c.id.desc())
            .limit(1)
        ).one()
        has_password = (
            connection.execute(select(p.c.id).where(p.c.user_id == user_id).limit(1)).first()
            is not None
        )
        tokens = connection.execute(
            select(t.c.token_id, e.c.at, e.c.author, r.c.id.label("revoked"))
            .join(e, t.c.event_id == e.c.id)
            .outerjoin(r, r.c.api_token_id == t.c.id)
            .where(t.c.user_id == user_id)
            .order_by(t.c.id)
        ).all()
        name = str(user.name)
        return UserRecord(
            name=name,
            role=state.role,
            status=state.status,
            lenses=self._lenses(connection, user_id),
            has_password=has_password,
            created_at=user.at,
            created_by=user.author,
            tokens=tuple(
                TokenRecord(
                    token_id=row.token_id,
                    user=name,
                    created_at=row.at,
                    created_by=row.author,
                    revoked=row.revoked is not None,
                )
                for row in tokens
            ),
        )
