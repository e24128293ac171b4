"""Reading the queue's filters from a request's query string (pages and API alike), refusing nonsense."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone

from fastapi import HTTPException

from geomatch.store.schema import OUTCOMES, PENDING

STATUSES = (PENDING, *OUTCOMES, "all")
_MAX_TEXT = 128


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters as given (``status`` ``all``: any status)."""

    status: str = PENDING
    offence: str | None = None
    subject: str | None = None
    since: date | None = None
    until: date | None = None
    min_score: float | None = None
    mine: bool = False
    overdue: bool = False
    page: int = 1

    def store_args(self, username: str, review_days: float, now: datetime | None = None) -> dict:
        """Keyword arguments of :func:`geomatch.store.assignment.queue_page` (without scope and paging)."""
        now = now or datetime.now(timezone.utc)
        return {"status": None if self.status == "all" else (PENDING if self.overdue else self.status),
                "offence": self.offence, "subject": self.subject, "since": self.since, "until": self.until,
                "min_score": self.min_score, "assigned_to": username if self.mine else None,
                "received_before": now - timedelta(days=review_days) if self.overdue else None}

    def query_string(self) -> dict[str, str]:
        """The filters as query parameters (for links to other pages), defaults left out."""
        shown = {}
        for name, value in asdict(self).items():
            if name == "page" or value in (None, False) or (name == "status" and value == PENDING):
                continue
            shown[name] = "1" if value is True else str(value)
        return shown


def _text(params, name: str) -> str | None:
    value = (params.get(name) or "").strip()
    if len(value) > _MAX_TEXT:
        raise HTTPException(400, f"{name} is longer than {_MAX_TEXT} characters")
    return value or None


def _date(params, name: str) -> date | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name} '{value}' is not a date of the form YYYY-MM-DD") from None


def _flag(params, name: str) -> bool:
    return (params.get(name) or "").lower() in ("1", "true", "on", "yes")


def parse_filters(params) -> QueueFilters:
    """The filters in ``params`` (a query-parameter mapping); 400 for a value that makes no sense."""
    status = _text(params, "status") or PENDING
    if status not in STATUSES:
        raise HTTPException(400, f"status '{status}' is not one of {', '.join(STATUSES)}")
    min_score = _text(params, "min_score")
    if min_score is not None:
        try:
            min_score = float(min_score)
        except ValueError:
            raise HTTPException(400, f"min_score '{min_score}' is not a number") from None
        if not (math.isfinite(min_score) and 0 <= min_score <= 100):
            raise HTTPException(400, "min_score must be between 0 and 100")
    page = _text(params, "page") or "1"
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise HTTPException(400, f"page '{page}' is not a page number")
    since, until = _date(params, "since"), _date(params, "until")
    if since and until and since > until:
        raise HTTPException(400, f"since {since} is after until {until}")
    return QueueFilters(status, _text(params, "offence"), _text(params, "subject"), since, until, min_score,
                        _flag(params, "mine"), _flag(params, "overdue"), int(page))
