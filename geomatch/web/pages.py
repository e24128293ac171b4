"""The pages offender managers use: login, the queue, a hit (evidence, history, recording an outcome), the
monthly audit download, the access log and, for administrators, the accounts."""
from __future__ import annotations

import secrets
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer

from geomatch.core.errors import InputError
from geomatch.store import add_review, get_hit
from geomatch.store.access import Access, list_access, log_access
from geomatch.store.accounts import add_user, check_login, create_session, end_session, list_users, set_active
from geomatch.store.assignment import assign_hit, offences, queue_page, team_members
from geomatch.store.audit import build_audit, write_audit
from geomatch.store.engine import shared_reads
from geomatch.store.schema import OUTCOMES, PENDING, ROLES
from geomatch.web import evidence
from geomatch.web.auth import (CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE, LoginRequired, Who, authenticate,
                               check_csrf, client_of, login_csrf, require_hit, scope_of, session_cookie_value,
                               session_id_of)
from geomatch.web.queries import STATUSES, parse_filters

router = APIRouter(include_in_schema=False)
ACCESS_PAGE = 100


def _settings(request: Request):
    return request.app.state.settings


def _render(request: Request, template: str, context: dict, status: int = 200, who: Who | None = None) -> Response:
    context = {"who": who, "csrf_field": CSRF_FIELD, **context}
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status)


def _who(request: Request) -> Who:
    return authenticate(request, _settings(request))


def _safe_next(target: str | None) -> str:
    """Only a path on this site to go to after logging in (never ``//other.site`` or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# ---- logging in and out --------------------------------------------------------------------------------------


def _login_serializer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(_settings(request).secret_key, salt="geomatch-login")


@router.get("/login")
def login_form(request: Request, next: str = "/", problem: str | None = None) -> Response:
    settings = _settings(request)
    nonce = secrets.token_urlsafe(16)
    response = _render(request, "login.html", {"next": _safe_next(next), "problem": problem,
                                               "login_csrf": login_csrf(settings, nonce)})
    response.set_cookie(LOGIN_COOKIE, _login_serializer(request).dumps(nonce), httponly=True, samesite="strict",
                        secure=settings.secure_cookies, max_age=3600)
    return response


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/"),
          csrf_token: str = Form("")) -> Response:
    settings = _settings(request)
    try:
        nonce = _login_serializer(request).loads(request.cookies.get(LOGIN_COOKIE, ""))
    except BadSignature:
        nonce = None
    if not nonce or not secrets.compare_digest(csrf_token, login_csrf(settings, nonce)):
        raise HTTPException(403, "the login form's CSRF token is missing or wrong: reload the page and try again")
    result = check_login(settings.db_url, username.strip()[:128], password, client=client_of(request))
    if result.user is None:
        # Slow down repeated failures (0.25 s, 0.5 s, 1 s, ... up to 4 s) on top of the lock after LOCK_AFTER.
        time.sleep(settings.login_delay_s * min(16, 2 ** max(0, result.failures - 1)))
        problem = "This account is locked for a while after repeated failed logins." if "locked" in (
            result.problem or "") else "Wrong user name or password."
        return login_form(request, next=next, problem=problem)
    session_id = create_session(settings.db_url, result.user.username)
    response = RedirectResponse(_safe_next(next), 303)
    response.set_cookie(SESSION_COOKIE, session_cookie_value(settings, session_id), httponly=True,
                        samesite="strict", secure=settings.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    who = _who(request)
    check_csrf(who, csrf_token)
    settings = _settings(request)
    session_id = session_id_of(request, settings)
    if session_id:
        end_session(settings.db_url, session_id)
    log_access(settings.db_url, Access(who.user.username, "logout", "", client_of(request)))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# ---- the queue -----------------------------------------------------------------------------------------------


@router.get("/")
def queue(request: Request) -> Response:
    settings = _settings(request)
    with shared_reads():  # the session's user and the page: one read transaction
        try:
            who = _who(request)
        except LoginRequired:
            return RedirectResponse("/login", 303)
        if not who.may("view_hits"):
            return RedirectResponse("/access-log" if who.may("access_log") else "/admin/users", 303)
        filters = parse_filters(request.query_params)
        now = datetime.now(timezone.utc)
        size = settings.page_size
        page = queue_page(settings.db_url, scope_of(who, settings), **filters.store_args(who.user.username,
                                                                                         settings.review_days, now),
                          limit=size, offset=(filters.page - 1) * size)
        offences_shown = _offences(request)
    overdue_before = now - timedelta(days=settings.review_days)
    # Attribute access for the template (Jinja tries an attribute before an item: a dict row costs an exception
    # per cell).
    rows = [SimpleNamespace(**row, overdue=row["status"] == PENDING and row["first_received_at"] < overdue_before)
            for row in page.rows]
    query = filters.query_string()
    log_access(settings.db_url, Access(who.user.username, "view_queue", urlencode(query), client_of(request),
                                       f"{len(page.rows)} hits shown, page {filters.page}"))
    context = {"filters": filters, "rows": rows, "has_more": page.has_more, "statuses": STATUSES,
               "offences": offences_shown, "review_days": settings.review_days,
               "first": (filters.page - 1) * size + 1,
               "prev_url": _page_url(query, filters.page - 1) if filters.page > 1 else None,
               "next_url": _page_url(query, filters.page + 1) if page.has_more else None}
    template = "queue_table.html" if request.headers.get("HX-Request") else "queue.html"
    return _render(request, template, context, who=who)


def _offences(request: Request, ttl_s: float = 60.0) -> list[str]:
    """The stored hits' offences for the filter, read again at most once a minute (a scan of every hit)."""
    cached = getattr(request.app.state, "offences", None)
    if cached is None or time.monotonic() - cached[0] > ttl_s:
        cached = (time.monotonic(), offences(_settings(request).db_url))
        request.app.state.offences = cached
    return cached[1]


def _page_url(query: dict[str, str], page: int) -> str:
    return "/?" + urlencode({**query, "page": str(page)} if page > 1 else query)


# ---- one hit -------------------------------------------------------------------------------------------------


@router.get("/hits/{hit_id}")
def hit_page(request: Request, hit_id: str, recorded: int | None = None) -> Response:
    settings = _settings(request)
    with shared_reads():  # the session's user, the hit's assignment, the hit and its history: one read transaction
        who = _who(request)
        assignee, team = require_hit(who, settings, hit_id)
        record = get_hit(settings.db_url, hit_id)
        members = team_members(settings.db_url, who.user.team) if who.may("assign") else []
    log_access(settings.db_url, Access(who.user.username, "view_hit", hit_id, client_of(request)))
    hit = record.hit
    received = hit["first_received_at"]
    overdue = record.status == PENDING and received < datetime.now(timezone.utc) - timedelta(days=settings.review_days)
    columns, rows, n_points = evidence.points(settings.evidence_dir, hit_id)
    reasons = [r for r in (hit["reasons"] or "").split("; ") if r]
    skip = {"hit_id", "subject_id", "crime_ref", "offence", "score", "reasons"}
    context = {
        "hit": hit, "record": record, "assignee": assignee, "team": team, "overdue": overdue,
        "reasons": reasons, "measurements": {k: v for k, v in sorted(record.measurements.items()) if k not in skip},
        "crime": {k: v for k, v in sorted(record.crime.items()) if k != "crime_ref"},
        "files": evidence.available(settings.evidence_dir, hit_id), "evidence_dir": settings.evidence_dir,
        "points_columns": columns, "points_rows": rows, "n_points": n_points,
        "may_review": who.may("review"), "may_assign": who.may("assign"),
        "members": members,
        "recorded": next((e for e in record.events if e.seq == recorded), None) if recorded else None,
        "review_days": settings.review_days,
    }
    return _render(request, "hit.html", context, who=who)


@router.post("/hits/{hit_id}/review")
def review(request: Request, hit_id: str, outcome: str = Form(""), note: str = Form(""),
           csrf_token: str = Form("")) -> Response:
    settings = _settings(request)
    with shared_reads():
        who = _who(request)
        check_csrf(who, csrf_token)
        require_hit(who, settings, hit_id, "review")
    if outcome not in OUTCOMES:
        raise HTTPException(400, f"choose an outcome from the list ({', '.join(OUTCOMES)})")
    if len(note) > 10_000:
        raise HTTPException(400, "the note is longer than 10,000 characters")
    event = add_review(settings.db_url, hit_id, outcome=outcome, by=who.user.username, note=note.strip(),
                       access=Access(who.user.username, "review", hit_id, client_of(request), outcome))
    return RedirectResponse(f"/hits/{hit_id}?recorded={event.seq}#history", 303)


@router.post("/hits/{hit_id}/assign")
def assign(request: Request, hit_id: str, assignee: str = Form(""), csrf_token: str = Form("")) -> Response:
    who = _who(request)
    check_csrf(who, csrf_token)
    settings = _settings(request)
    _, team = require_hit(who, settings, hit_id, "assign")
    if assignee not in team_members(settings.db_url, who.user.team):
        raise HTTPException(400, f"'{assignee}' is not an active reviewer or supervisor of your team")
    assign_hit(settings.db_url, hit_id, assignee,
               access=Access(who.user.username, "assign", hit_id, client_of(request), f"to {assignee}"))
    return RedirectResponse(f"/hits/{hit_id}", 303)


@router.get("/hits/{hit_id}/files/{name}")
def pack_file(request: Request, hit_id: str, name: str) -> Response:
    who = _who(request)
    settings = _settings(request)
    require_hit(who, settings, hit_id)
    path = evidence.pack_file(settings.evidence_dir, hit_id, name)
    if path is None:
        raise HTTPException(404, f"the evidence pack of hit {hit_id} has no file '{name}'")
    kind = evidence.FILES[name]
    log_access(settings.db_url, Access(who.user.username, kind.action, f"{hit_id}/{name}", client_of(request)))
    headers = {"Content-Security-Policy": evidence.MAP_CSP} if name == "map.html" else {}
    return FileResponse(path, media_type=kind.media_type, headers=headers,
                        content_disposition_type="inline" if kind.inline else "attachment",
                        filename=f"{hit_id}-{name}")


@router.get("/hits/{hit_id}/pack.zip")
def pack_archive(request: Request, hit_id: str) -> Response:
    who = _who(request)
    settings = _settings(request)
    require_hit(who, settings, hit_id)
    data = evidence.pack_zip(settings.evidence_dir, hit_id)
    if data is None:
        raise HTTPException(404, f"there is no evidence pack for hit {hit_id}")
    log_access(settings.db_url, Access(who.user.username, "download", f"{hit_id}/pack.zip", client_of(request)))
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{hit_id}-pack.zip"'})


# ---- the monthly audit, the access log, accounts ------------------------------------------------------------


@router.get("/audit")
def audit(request: Request, month: str | None = None, format: str = "xlsx") -> Response:
    who = _who(request)
    who.require("export")
    settings = _settings(request)
    if month is None:
        return _render(request, "audit.html", {"month": date.today().strftime("%Y-%m"),
                                               "review_days": settings.review_days}, who=who)
    if format not in ("xlsx", "csv"):
        raise HTTPException(400, "format is xlsx or csv")
    report = build_audit(settings.db_url, month, review_days=settings.review_days)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"moj-audit-{report.month}.{format}"
        write_audit(report, path)
        data = path.read_bytes()
    log_access(settings.db_url, Access(who.user.username, "export", f"audit {report.month}", client_of(request),
                                       f"{len(report.rows)} hits, {format}"))
    media = ("text/csv; charset=utf-8" if format == "csv"
             else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="moj-audit-{report.month}.{format}"'})


@router.get("/access-log")
def access_log_page(request: Request, user: str | None = None, since: str | None = None, page: int = 1) -> Response:
    who = _who(request)
    who.require("access_log")
    settings = _settings(request)
    try:
        since_day = date.fromisoformat(since) if since else None
    except ValueError:
        raise HTTPException(400, f"since '{since}' is not a date of the form YYYY-MM-DD") from None
    page = max(1, page)
    frame = list_access(settings.db_url, user=user or None, since=since_day, limit=ACCESS_PAGE + 1,
                        offset=(page - 1) * ACCESS_PAGE)
    log_access(settings.db_url, Access(who.user.username, "view_access_log", urlencode(
        {k: v for k, v in {"user": user, "since": since}.items() if v}), client_of(request)))
    rows = frame.head(ACCESS_PAGE).to_dict("records")
    query = {k: v for k, v in {"user": user, "since": since}.items() if v}
    return _render(request, "access_log.html", {
        "rows": rows, "user": user or "", "since": since or "", "page": page,
        "prev_url": "/access-log?" + urlencode({**query, "page": page - 1}) if page > 1 else None,
        "next_url": "/access-log?" + urlencode({**query, "page": page + 1}) if len(frame) > ACCESS_PAGE else None,
    }, who=who)


@router.get("/admin/users")
def users_page(request: Request, problem: str | None = None) -> Response:
    who = _who(request)
    who.require("users")
    return _render(request, "users.html", {"users": list_users(_settings(request).db_url), "roles": ROLES,
                                           "problem": problem}, who=who)


@router.post("/admin/users")
def users_add(request: Request, username: str = Form(""), role: str = Form(""), team: str = Form(""),
              password: str = Form(""), csrf_token: str = Form("")) -> Response:
    who = _who(request)
    check_csrf(who, csrf_token)
    who.require("users")
    try:
        add_user(_settings(request).db_url, username.strip(), role=role, password=password or None,
                 team=team.strip() or None, by=who.user.username)
    except InputError as error:
        return users_page(request, problem=error.sentence())
    return RedirectResponse("/admin/users", 303)


@router.post("/admin/users/{username}/{action}")
def users_change(request: Request, username: str, action: str, csrf_token: str = Form("")) -> Response:
    who = _who(request)
    check_csrf(who, csrf_token)
    who.require("users")
    if action not in ("disable", "enable"):
        raise HTTPException(404, "no such action")
    if username == who.user.username and action == "disable":
        raise HTTPException(400, "you cannot disable your own account")
    set_active(_settings(request).db_url, username, action == "enable", by=who.user.username,
               client=client_of(request))
    return RedirectResponse("/admin/users", 303)
