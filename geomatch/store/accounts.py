"""Accounts of the review web application: users and roles, password logins that slow down and lock, browser
sessions and API tokens.

Passwords are hashed with argon2id (argon2-cffi's defaults); API tokens and session ids are random (256 bits)
and only their SHA-256 is stored, so a copy of the database gives no way in. A disabled account's sessions are
deleted and its token refused.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geomatch.core.errors import InputError
from geomatch.store.access import Access, append_access
from geomatch.store.engine import get_engine, prepared, read_connection, write_transaction
from geomatch.store.schema import ROLES, sessions, users

#: Consecutive failed logins after which an account is locked, and for how long.
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=8)
MIN_PASSWORD = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has")  # verified against for unknown names: same time taken


@dataclass(frozen=True)
class User:
    """An account as the application sees it."""

    username: str
    role: str
    team: str | None
    active: bool = True


def _user(row) -> User:
    return User(row.username, row.role, row.team, bool(row.active))


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def add_user(db_url: str | None, username: str, *, role: str, password: str | None = None,
             team: str | None = None, by: str = "command line") -> User:
    """Create an account. ``password`` None: the account logs in only by API token or a trusted proxy header."""
    if not _NAME.match(username):
        raise InputError(f"user name '{username}' is not 1-128 letters, digits, '.', '_', '@' or '-' "
                         "(starting with a letter or digit)")
    if role not in ROLES:
        raise InputError(f"role '{role}' is not one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InputError(f"the password is shorter than {MIN_PASSWORD} characters")
    now = _now()
    hashed = None if password is None else _hasher.hash(password)
    with write_transaction(get_engine(db_url)) as conn:
        if conn.execute(sa.select(users.c.username).where(users.c.username == username)).first() is not None:
            raise InputError(f"there is already a user '{username}'")
        conn.execute(users.insert().values(username=username, role=role, team=team or None, password_hash=hashed,
                                           token_sha256=None, active=True, failed_logins=0, locked_until=None,
                                           created_at=now, updated_at=now))
        append_access(conn, Access(by, "user_add", username, detail=f"role {role}" + (f", team {team}" if team else "")))
    return User(username, role, team or None)


def set_active(db_url: str | None, username: str, active: bool, *, by: str = "command line",
               client: str = "command line") -> None:
    """Disable an account (its sessions end, its token is refused) or enable it again (which also unlocks it)."""
    with write_transaction(get_engine(db_url)) as conn:
        _require(conn, username)
        values = {"active": active, "updated_at": _now()}
        if active:
            values.update(failed_logins=0, locked_until=None)
        conn.execute(users.update().where(users.c.username == username).values(**values))
        if not active:
            conn.execute(sessions.delete().where(sessions.c.username == username))
        append_access(conn, Access(by, "user_enable" if active else "user_disable", username, client))


def new_token(db_url: str | None, username: str, *, by: str = "command line") -> str:
    """A new API token for ``username`` (replacing any earlier one); only its SHA-256 is stored."""
    token = "gm_" + secrets.token_urlsafe(32)
    with write_transaction(get_engine(db_url)) as conn:
        _require(conn, username)
        conn.execute(users.update().where(users.c.username == username)
                     .values(token_sha256=sha256_hex(token), updated_at=_now()))
        append_access(conn, Access(by, "user_token", username, detail="new API token"))
    return token


def list_users(db_url: str | None = None) -> list[dict]:
    """Every account: name, role, team, active, locked until (UTC or None), whether it has a password and token."""
    with read_connection(get_engine(db_url)) as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.username)).mappings().all()
    return [{"username": r["username"], "role": r["role"], "team": r["team"], "active": bool(r["active"]),
             "locked_until": r["locked_until"], "password": r["password_hash"] is not None,
             "token": r["token_sha256"] is not None} for r in rows]


def get_user(db_url: str | None, username: str) -> User | None:
    """The active account ``username``, or None."""
    with read_connection(get_engine(db_url)) as conn:
        row = conn.execute(sa.select(users).where(users.c.username == username, users.c.active.is_(True))).first()
    return None if row is None else _user(row)


def user_by_token(db_url: str | None, token: str) -> User | None:
    """The active account whose API token is ``token``, or None."""
    with read_connection(get_engine(db_url)) as conn:
        row = conn.execute(sa.select(users).where(users.c.token_sha256 == sha256_hex(token),
                                                  users.c.active.is_(True))).first()
    return None if row is None else _user(row)


def _require(conn, username: str):
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    if row is None:
        raise InputError(f"there is no user '{username}'")
    return row


@dataclass(frozen=True)
class LoginResult:
    """The result of a password login: the user when it succeeded, else why not (said to the person only as
    "wrong name or password" or "locked"), and the consecutive failures so far (for slowing down)."""

    user: User | None
    problem: str | None
    failures: int


def check_login(db_url: str | None, username: str, password: str, *, client: str) -> LoginResult:
    """Check a password login and log it (successful or not). ``LOCK_AFTER`` consecutive failures lock the
    account for ``LOCK_FOR``; a locked, disabled or unknown account is refused after the same hashing work."""
    engine = get_engine(db_url)
    with read_connection(engine) as conn:
        row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    now = _now()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        verified = _hasher.verify(stored, password) and stored is not _DUMMY_HASH
    except (VerificationError, InvalidHashError):
        verified = False
    if row is None:
        problem = "unknown user"
    elif not row.active:
        problem = "account disabled"
    elif row.locked_until is not None and row.locked_until > now:
        problem = "account locked"
    elif not verified:
        problem = "wrong password"
    else:
        problem = None
    with write_transaction(engine) as conn:
        failures = 0
        if row is not None and problem in ("wrong password", "account locked"):
            failures = conn.execute(sa.select(users.c.failed_logins).where(users.c.username == username)).scalar() + 1
            values = {"failed_logins": failures}
            if problem == "wrong password" and failures % LOCK_AFTER == 0:
                values["locked_until"] = now + LOCK_FOR
                problem = f"wrong password; account locked for {LOCK_FOR.seconds // 60} minutes"
            conn.execute(users.update().where(users.c.username == username).values(**values))
        elif problem is None:
            conn.execute(users.update().where(users.c.username == username)
                         .values(failed_logins=0, locked_until=None))
        append_access(conn, Access(username, "login" if problem is None else "login_failed", "", client,
                                   "password" if problem is None else problem))
    return LoginResult(None if problem else _user(row), problem, failures)


def create_session(db_url: str | None, username: str, *, ttl: timedelta = SESSION_TTL) -> str:
    """A new browser session for ``username``: returns the session id (only its SHA-256 is stored)."""
    session_id = secrets.token_urlsafe(32)
    now = _now()
    with write_transaction(get_engine(db_url)) as conn:
        conn.execute(sessions.delete().where(sessions.c.expires_at < now))
        conn.execute(sessions.insert().values(session_sha256=sha256_hex(session_id), username=username,
                                              created_at=now, expires_at=now + ttl))
    return session_id


#: The account of a session (checked on every request): built once, the values bound at each call.
_SESSION_USER = prepared(sa.select(users.c.username, users.c.role, users.c.team, users.c.active)
                          .join(sessions, sessions.c.username == users.c.username)
                          .where(sessions.c.session_sha256 == sa.bindparam("session_sha256"),
                                 sessions.c.expires_at > sa.bindparam("now", type_=sessions.c.expires_at.type),
                                 users.c.active.is_(True)))


def session_user(db_url: str | None, session_id: str) -> User | None:
    """The active account of an unexpired session, or None."""
    with read_connection(get_engine(db_url)) as conn:
        row = conn.execute(_SESSION_USER, {"session_sha256": sha256_hex(session_id), "now": _now()}).first()
    return None if row is None else _user(row)


def end_session(db_url: str | None, session_id: str) -> None:
    """Forget a session (logging out)."""
    with write_transaction(get_engine(db_url)) as conn:
        conn.execute(sessions.delete().where(sessions.c.session_sha256 == sha256_hex(session_id)))
