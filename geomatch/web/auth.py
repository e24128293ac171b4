"""Who is asking, and may they: API tokens, a trusted proxy header or a session cookie; roles; CSRF tokens.

The client never says who it is in a form or a JSON body: the reviewer recorded is the authenticated user.
Session cookies hold the session id signed with itsdangerous (HttpOnly, SameSite=Strict, Secure behind TLS);
the store keeps only the id's SHA-256. Every form carries a CSRF token, an HMAC of the session (or, behind a
single-sign-on proxy, of the user name) under the server's secret; requests with an API token need none, as no
browser sends a bearer token on its own.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer

from geomatch.store.accounts import User, get_user, session_user, user_by_token
from geomatch.store.assignment import Scope, hit_assignment
from geomatch.web.settings import WebSettings

SESSION_COOKIE = "gm_session"
LOGIN_COOKIE = "gm_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

#: Which roles may do what. Every route names one of these.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_hits": frozenset({"reviewer", "supervisor", "auditor"}),
    "review": frozenset({"reviewer", "supervisor"}),
    "assign": frozenset({"supervisor"}),
    "export": frozenset({"supervisor", "auditor"}),
    "access_log": frozenset({"auditor", "admin"}),
    "users": frozenset({"admin"}),
}


class LoginRequired(Exception):
    """No credentials (or bad ones): pages redirect to the login page, the API answers 401."""


@dataclass(frozen=True)
class Who:
    """The authenticated user of a request, how they were authenticated, and the CSRF token their forms carry."""

    user: User
    via: str  # "token", "session" or "header"
    csrf: str | None

    def may(self, permission: str) -> bool:
        return self.user.role in PERMISSIONS[permission]

    def require(self, permission: str) -> None:
        if not self.may(permission):
            raise HTTPException(403, f"the role {self.user.role} may not {permission.replace('_', ' ')}")


def _mac(settings: WebSettings, purpose: str, value: str) -> str:
    return hmac.new(settings.secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def cookie_serializer(settings: WebSettings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="geomatch-session")


def session_cookie_value(settings: WebSettings, session_id: str) -> str:
    return cookie_serializer(settings).dumps(session_id)


def session_id_of(request: Request, settings: WebSettings) -> str | None:
    """The session id in the request's cookie when its signature holds, else None."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        value = cookie_serializer(settings).loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def login_csrf(settings: WebSettings, nonce: str) -> str:
    """The login form's CSRF token for the nonce in its (signed) cookie: login CSRF is refused too."""
    return _mac(settings, "login", nonce)


def authenticate(request: Request, settings: WebSettings) -> Who:
    """The request's user, from (in this order) a bearer token, the trusted proxy header, the session cookie.

    Raises :class:`LoginRequired` when none identifies an active user.
    """
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        user = user_by_token(settings.db_url, token.strip()) if scheme.lower() == "bearer" and token else None
        if user is None:
            raise LoginRequired("the API token is not valid (or its account is disabled)")
        return Who(user, "token", None)
    if settings.trust_user_header:
        name = request.headers.get(settings.trust_user_header, "").strip()
        user = get_user(settings.db_url, name) if name else None
        if user is None:
            raise LoginRequired(f"the proxy's {settings.trust_user_header} header names no active user")
        return Who(user, "header", _mac(settings, "csrf-user", user.username))
    session_id = session_id_of(request, settings)
    user = session_user(settings.db_url, session_id) if session_id else None
    if user is None:
        raise LoginRequired("not logged in")
    return Who(user, "session", _mac(settings, "csrf-session", session_id))


def check_csrf(who: Who, submitted: str | None) -> None:
    """Refuse (403) a state-changing browser request whose CSRF token is missing or wrong."""
    if who.csrf is None:  # API token: no ambient credential for another site to ride on
        return
    if not submitted or not hmac.compare_digest(submitted, who.csrf):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page and try again")


def scope_of(who: Who, settings: WebSettings) -> Scope:
    """The hits ``who`` may see: a reviewer's own (or all, by configuration), a supervisor's team's (all for a
    supervisor without a team), all for an auditor."""
    user = who.user
    if user.role == "reviewer" and not settings.reviewers_see_all:
        return Scope(assignee=user.username)
    if user.role == "supervisor" and user.team:
        return Scope(team=user.team)
    return Scope()


def require_hit(who: Who, settings: WebSettings, hit_id: str, permission: str = "view_hits") -> tuple[str | None, str | None]:
    """Check that ``who`` may do ``permission`` on the hit (404 when there is no such hit, 403 when it is outside
    their scope). Returns its (assignee, team)."""
    who.require(permission)
    assignment = hit_assignment(settings.db_url, hit_id)
    if assignment is None:
        raise HTTPException(404, f"there is no hit '{hit_id}'")
    scope = scope_of(who, settings)
    assignee, team = assignment
    if (scope.assignee is not None and assignee != scope.assignee) or (scope.team is not None and team != scope.team):
        raise HTTPException(403, "this hit is not assigned to you or your team")
    return assignment


def client_of(request: Request) -> str:
    """Where a request came from, for the access log (the proxy's client address when uvicorn trusts it)."""
    return request.client.host if request.client else "unknown"
