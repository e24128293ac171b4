"""The JSON API for scripts and force systems: the same store, roles and access log as the pages.

Every route takes ``Authorization: Bearer TOKEN`` (``geomatch users token NAME``); a browser session works too,
and then a state-changing request needs the ``X-CSRF-Token`` header. No credentials: 401.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from geomatch.store import add_review, get_hit
from geomatch.store.access import Access, list_access, log_access
from geomatch.store.assignment import queue_page
from geomatch.store.engine import shared_reads
from geomatch.store.schema import OUTCOMES
from geomatch.web.auth import CSRF_HEADER, authenticate, check_csrf, client_of, require_hit, scope_of
from geomatch.web.queries import parse_filters

router = APIRouter(prefix="/api", tags=["hits"])
service = APIRouter(tags=["service"])


def _json(value: Any) -> Any:
    """A stored value as JSON: times as UTC ISO 8601 with ``Z``."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, float) and value != value:
        return None
    return value


def _row(row: dict) -> dict:
    return {k: _json(v) for k, v in row.items()}


@service.get("/healthz")
def healthz() -> dict:
    """200 while the server runs (no login)."""
    return {"status": "ok"}


@router.get("/hits")
def list_hits(request: Request, status: str = "pending", offence: str | None = None, subject: str | None = None,
              min_score: float | None = Query(None, ge=0, le=100), limit: int = Query(50, ge=1, le=500),
              offset: int = Query(0, ge=0)) -> dict:
    """Hits you may see, highest score first, filtered (``status``: pending, an outcome, or all)."""
    settings = request.app.state.settings
    with shared_reads():
        who = authenticate(request, settings)
        who.require("view_hits")
        filters = parse_filters(request.query_params)
        page = queue_page(settings.db_url, scope_of(who, settings),
                          **filters.store_args(who.user.username, settings.review_days), limit=limit, offset=offset)
    log_access(settings.db_url, Access(who.user.username, "view_queue", str(request.url.query), client_of(request),
                                       f"{len(page.rows)} hits listed (API)"))
    return {"hits": [_row(r) for r in page.rows], "limit": limit, "offset": offset, "has_more": page.has_more}


@router.get("/hits/{hit_id}")
def show_hit(request: Request, hit_id: str) -> dict:
    """One hit: stored fields, measurements as received, the crime record, assignment and review events."""
    settings = request.app.state.settings
    with shared_reads():
        who = authenticate(request, settings)
        assignee, team = require_hit(who, settings, hit_id)
        record = get_hit(settings.db_url, hit_id)
    log_access(settings.db_url, Access(who.user.username, "view_hit", hit_id, client_of(request), "API"))
    hit = {k: _json(v) for k, v in record.hit.items() if k != "detail"}
    return {"hit": hit, "status": record.status, "assignee": assignee, "team": team,
            "measurements": record.measurements, "crime": record.crime, "crime_version": record.crime_version,
            "events": [{"seq": e.seq, "at": _json(e.at), "by": e.by, "outcome": e.outcome, "note": e.note,
                        "hash": e.hash} for e in record.events]}


class ReviewIn(BaseModel):
    """A review to record: the reviewer is the authenticated user."""

    outcome: str = Field(description="One of: " + ", ".join(OUTCOMES))
    note: str = Field("", max_length=10_000)


@router.post("/hits/{hit_id}/reviews", status_code=201)
def post_review(request: Request, hit_id: str, body: ReviewIn) -> JSONResponse:
    """Record an outcome for a hit (201). 403 for a role that may not review or a hit not yours; 404 for none."""
    settings = request.app.state.settings
    with shared_reads():
        who = authenticate(request, settings)
        check_csrf(who, request.headers.get(CSRF_HEADER))
        require_hit(who, settings, hit_id, "review")
    if body.outcome not in OUTCOMES:
        raise HTTPException(422, f"outcome '{body.outcome}' is not one of {', '.join(OUTCOMES)}")
    event = add_review(settings.db_url, hit_id, outcome=body.outcome, by=who.user.username, note=body.note.strip(),
                       access=Access(who.user.username, "review", hit_id, client_of(request), f"{body.outcome} (API)"))
    return JSONResponse({"seq": event.seq, "hit_id": hit_id, "at": _json(event.at), "by": event.by,
                         "outcome": event.outcome, "note": event.note, "hash": event.hash}, 201)


@router.get("/access-log", tags=["access log"])
def access_log(request: Request, user: str | None = None, since: date | None = None,
               limit: int = Query(1000, ge=1, le=10_000), offset: int = Query(0, ge=0)) -> dict:
    """The access log, newest first (auditors and administrators); ``since`` a UK local date."""
    settings = request.app.state.settings
    who = authenticate(request, settings)
    who.require("access_log")
    frame = list_access(settings.db_url, user=user, since=since, limit=limit, offset=offset)
    log_access(settings.db_url, Access(who.user.username, "view_access_log", str(request.url.query),
                                       client_of(request), "API"))
    return {"entries": [_row(r) for r in frame.to_dict("records")], "limit": limit, "offset": offset}
