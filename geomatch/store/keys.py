"""The audit key: an HMAC key kept outside the database, so that a forged review chain or hit seal does not verify.

Without a key, review events and hit seals are chained with plain SHA-256. That detects accidental edits (a
changed cell, a deleted row) but not a forger who can write to the database: they can recompute every hash.
With a key, new digests are HMAC-SHA256 under the key, and only someone who holds it can write digests that
verify. The key comes from, in order: the command's ``--key-file`` (:func:`using_key`), ``$GEOMATCH_AUDIT_KEY``
(the secret itself) or a file named by ``$GEOMATCH_AUDIT_KEY_FILE``. Keep it off the database's machine or at
least out of reach of the database's writers; a key of 32 random bytes (``openssl rand -hex 32``) is plenty.

A keyed digest fits the same 64-character columns as a plain one: ``k``, the key's id (8 hex digits of a SHA-256
of the key, so a wrong key is told apart from a forgery) and the first 55 hex digits (220 bits) of the
HMAC-SHA256. Plain digests are 64 hex digits and never start with ``k``, so stores written before keys (or
without one) keep verifying as they did.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from geomatch.core.errors import InputError

KEY_ENV_VAR = "GEOMATCH_AUDIT_KEY"
KEY_FILE_ENV_VAR = "GEOMATCH_AUDIT_KEY_FILE"
MIN_KEY_BYTES = 16
_KEYED = "k"
_MAC_HEX_DIGITS = 55


@dataclass(frozen=True)
class AuditKey:
    """A secret HMAC key; ``key_id`` names it in digests and messages without revealing it."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise InputError(f"the audit key must be at least {MIN_KEY_BYTES} bytes, got {len(self.secret)} "
                             "(make one with: openssl rand -hex 32)")

    @property
    def key_id(self) -> str:
        """8 hex digits that name the key."""
        return hashlib.sha256(b"geomatch audit key id\0" + self.secret).hexdigest()[:8]


def load_key_file(path: Path | str) -> AuditKey:
    """The key in a file (its bytes, trailing white space removed)."""
    path = Path(path)
    try:
        secret = path.read_bytes().rstrip()
    except IsADirectoryError as error:
        raise InputError("the audit key file is a folder, not a file", file=str(path)) from error
    except OSError as error:
        raise InputError(f"cannot read the audit key: {error.strerror or error}", file=str(path)) from error
    try:
        return AuditKey(secret)
    except InputError as error:
        raise InputError(error.message, file=str(path)) from None


_given: ContextVar[tuple[AuditKey | None] | None] = ContextVar("geomatch_audit_key", default=None)


@contextmanager
def using_key(key: AuditKey | None) -> Iterator[None]:
    """Within the block, :func:`current_key` is ``key`` (None: no key, whatever the environment says)."""
    token = _given.set((key,))
    try:
        yield
    finally:
        _given.reset(token)


def current_key() -> AuditKey | None:
    """The key in force: the one given to :func:`using_key`, else ``$GEOMATCH_AUDIT_KEY``, else the file named by
    ``$GEOMATCH_AUDIT_KEY_FILE``, else None."""
    given = _given.get()
    if given is not None:
        return given[0]
    if os.environ.get(KEY_ENV_VAR):
        try:
            return AuditKey(os.environ[KEY_ENV_VAR].encode("utf-8"))
        except InputError as error:
            raise InputError(f"${KEY_ENV_VAR}: {error.message}") from None
    if os.environ.get(KEY_FILE_ENV_VAR):
        return load_key_file(os.environ[KEY_FILE_ENV_VAR])
    return None


def digest(data: bytes, key: AuditKey | None) -> str:
    """64 characters: the hex SHA-256 of ``data``, or with a key ``k`` + key id + the HMAC-SHA256's first 55 hex
    digits."""
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return _KEYED + key.key_id + hmac.new(key.secret, data, hashlib.sha256).hexdigest()[:_MAC_HEX_DIGITS]


def is_keyed(stored: str) -> bool:
    """Whether a stored digest was made with a key."""
    return stored.startswith(_KEYED)


def stored_key_id(stored: str) -> str | None:
    """The id of the key a stored digest was made with (None for a plain digest)."""
    return stored[1:9] if is_keyed(stored) else None


def check_digest(stored: str, data: bytes, key: AuditKey | None) -> str | None:
    """Why ``stored`` is not the digest of ``data``, in words (None when it is)."""
    if not is_keyed(stored):
        return None if hmac.compare_digest(stored, digest(data, None)) else "changed"
    if key is None:
        return (f"keyed (key id {stored_key_id(stored)}) and no key was given to check it "
                f"(--key-file or ${KEY_ENV_VAR})")
    if stored_key_id(stored) != key.key_id:
        return f"keyed with key id {stored_key_id(stored)}, not with the key given (id {key.key_id})"
    return None if hmac.compare_digest(stored, digest(data, key)) else "changed"
