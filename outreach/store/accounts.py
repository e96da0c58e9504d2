"""Console accounts: users and roles, server-side sessions, sign-in throttling, the audit log.

Passwords are hashed with argon2id; a session is a random token whose SHA-256 is the row's
key, so a copy of the database opens no session. Sessions end on sign-out, on a role change
and when the account is removed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from outreach.errors import OutreachError
from outreach.store.schema import audit, login_failures, sessions, users

VIEWER, ORGANIZER, ADMIN = "viewer", "organizer", "admin"
ROLES = (VIEWER, ORGANIZER, ADMIN)
"""Each role may do what the ones before it may."""

SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=1)
THROTTLE_LIMIT = 10
"""After this many failed sign-ins in `THROTTLE_WINDOW` (one account or one address)
every attempt is refused until the window holds fewer."""
MIN_PASSWORD = 12

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    """A console account."""

    id: int
    email: str
    role: str
    created_at: datetime

    def may(self, role: str) -> bool:
        """True when this account's role is `role` or above."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its account and the token its forms must carry."""

    user: User
    csrf: str


def account_key(email: str) -> str:
    """The one key an account is found by: trimmed and case-folded."""
    return email.strip().casefold()


def _user(row: object) -> User:
    return User(row.id, row.email, row.role, row.created_at)  # type: ignore[attr-defined]


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise OutreachError(f"role '{role}' is not one of {', '.join(ROLES)}")
    return role


def add_user(engine: Engine, email: str, password: str, role: str, now: datetime) -> User:
    """A new account; refuses a taken address, a bad role and a short password."""
    address = email.strip()
    if "@" not in address:
        raise OutreachError(f"'{email}' is not an email address")
    if len(password) < MIN_PASSWORD:
        raise OutreachError(f"the password must have at least {MIN_PASSWORD} characters")
    values = {
        "email": address,
        "email_key": account_key(address),
        "password_hash": _hasher.hash(password),
        "role": _check_role(role),
        "created_at": now,
    }
    try:
        with engine.begin() as conn:
            result = conn.execute(users.insert().values(**values))
    except IntegrityError:
        raise OutreachError(f"there is already an account for {address}") from None
    assert result.inserted_primary_key is not None
    return User(int(result.inserted_primary_key[0]), address, role, now)


def find_user(engine: Engine, email: str) -> User | None:
    """The account with this address, if any."""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email_key == account_key(email))).first()
    return _user(row) if row else None


def list_users(engine: Engine) -> list[User]:
    """Every account, by address."""
    with engine.connect() as conn:
        return [_user(row) for row in conn.execute(select(users).order_by(users.c.email_key))]


def remove_user(engine: Engine, email: str) -> bool:
    """Delete an account and end its sessions; False when there is none."""
    with engine.begin() as conn:
        found = conn.execute(
            select(users.c.id).where(users.c.email_key == account_key(email))
        ).scalar()
        if found is None:
            return False
        conn.execute(delete(sessions).where(sessions.c.user_id == found))
        conn.execute(delete(users).where(users.c.id == found))
        return True


def set_role(engine: Engine, email: str, role: str) -> bool:
    """Change an account's role and end its sessions; False when there is no such account."""
    _check_role(role)
    with engine.begin() as conn:
        found = conn.execute(
            select(users.c.id).where(users.c.email_key == account_key(email))
        ).scalar()
        if found is None:
            return False
        conn.execute(update(users).where(users.c.id == found).values(role=role))
        conn.execute(delete(sessions).where(sessions.c.user_id == found))
        return True


def authenticate(engine: Engine, email: str, password: str) -> User | None:
    """The account when the password is right (the same work is done when there is none)."""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email_key == account_key(email))).first()
    stored = row.password_hash if row else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return _user(row) if row else None


def throttled(engine: Engine, email: str, address: str, now: datetime) -> bool:
    """True when this account or this client address failed too often lately."""
    since = now - THROTTLE_WINDOW
    with engine.connect() as conn:
        for column, value in (
            (login_failures.c.account, account_key(email)),
            (login_failures.c.address, address),
        ):
            query = select(func.count()).where(column == value, login_failures.c.at > since)
            if int(conn.execute(query).scalar_one()) >= THROTTLE_LIMIT:
                return True
    return False


def note_failure(engine: Engine, email: str, address: str, now: datetime) -> None:
    """Remember a failed sign-in (and forget those too old to count)."""
    with engine.begin() as conn:
        conn.execute(delete(login_failures).where(login_failures.c.at <= now - timedelta(days=1)))
        conn.execute(
            login_failures.insert().values(account=account_key(email), address=address, at=now)
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(engine: Engine, user: User, now: datetime) -> str:
    """A new session for `user`; returns the token the cookie carries."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
        conn.execute(
            sessions.insert().values(
                id=_digest(token),
                user_id=user.id,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return token


def session_for(engine: Engine, token: str, now: datetime) -> Session | None:
    """The live session this token opens, if any."""
    query = (
        select(users, sessions.c.csrf)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.id == _digest(token), sessions.c.expires_at > now)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return Session(_user(row), row.csrf) if row else None


def close_session(engine: Engine, token: str) -> None:
    """End a session (sign-out)."""
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.id == _digest(token)))


@dataclass(frozen=True)
class AuditEntry:
    """One organizer action."""

    at: datetime
    actor: str
    action: str
    detail: str


def record(engine: Engine, actor: str, action: str, detail: str, now: datetime) -> None:
    """Add an entry to the audit log."""
    with engine.begin() as conn:
        conn.execute(audit.insert().values(at=now, actor=actor, action=action, detail=detail))


def audit_log(engine: Engine, limit: int | None = None) -> list[AuditEntry]:
    """The audit log, newest first."""
    query = select(audit).order_by(audit.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [AuditEntry(r.at, r.actor, r.action, r.detail) for r in conn.execute(query)]
