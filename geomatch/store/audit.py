"""The MoJ monthly audit: how the force responded to the hits it received in one UK calendar month.

The audit is a query over the stored hits and review events (nothing is copied): one row per hit first received
in the month, and a summary. Months are UK calendar months (Europe/London), so October 2026 runs from
2026-10-01 00:00 BST (2026-09-30 23:00 UTC) to 2026-11-01 00:00 GMT. Outcomes are taken as of a moment
(``as_of``, default now): events after it are left out, so an audit re-run later with the same ``as_of``
gives the same answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from geomatch.core.version import __version__
from geomatch.core.errors import InputError
from geomatch.core.safe import neutralise_cell, write_safe_csv
from geomatch.store.chain import verify_chain
from geomatch.store.engine import get_engine, read_connection
from geomatch.core.times import uk_day_start
from geomatch.store.review import UK, latest_event
from geomatch.store.seal import verify_hits
from geomatch.store.schema import OUTCOMES, PENDING, hits, review_events
from geomatch.core.times import format_uk, parse_times

#: Audit columns: internal name -> header shown in the CSV and XLSX.
COLUMNS = {
    "hit_id": "Hit ID",
    "crime_ref": "Crime reference",
    "subject_id": "Subject reference",
    "offence": "Offence",
    "received": "Date received (UK time)",
    "first_review": "First review (UK time)",
    "days_to_first_review": "Days to first review",
    "current_outcome": "Current outcome",
    "action_taken": "Action taken",
    "latest_note": "Latest note",
}
_XLSX_DATETIME = "yyyy-mm-dd hh:mm"
_MAX_WIDTH = 60


@dataclass(frozen=True)
class AuditReport:
    """One month's audit.

    Attributes:
        month: ``YYYY-MM`` (UK calendar month).
        start, end: the month's bounds in UTC (start inclusive, end exclusive).
        as_of: outcomes as of this UTC instant.
        review_days: the agreed time from receiving a hit to its first review, in days.
        rows: one row per hit (columns :data:`COLUMNS`; times tz-aware UTC, days as float).
        summary: (measure, value) pairs, in order.
    """

    month: str
    start: datetime
    end: datetime
    as_of: datetime
    review_days: float
    rows: pd.DataFrame
    summary: list[tuple[str, Any]]


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """A ``YYYY-MM`` UK calendar month as UTC instants [start, end)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InputError(f"month '{month}' is not of the form YYYY-MM (for example 2026-10)")
    year, number = int(match.group(1)), int(match.group(2))
    following = date(year + number // 12, number % 12 + 1, 1)
    return uk_day_start(date(year, number, 1)), uk_day_start(following)


def parse_as_of(text: str) -> datetime:
    """An ``as_of`` moment from text: UK local time unless it has an offset (a date alone: its midnight)."""
    parsed = parse_times(pd.Series([text]), side="instant")
    if pd.isna(parsed.utc.iloc[0]):
        raise InputError(f"'{text}' is not a date-time (for example 2026-11-05 09:00), or it is a clock-change hour")
    return parsed.utc.iloc[0].to_pydatetime()


def build_audit(db_url: str | None, month: str, *, review_days: float = 2.0,
                as_of: datetime | None = None) -> AuditReport:
    """Query the audit of the hits received in ``month`` (UK calendar month), outcomes as of ``as_of``."""
    if review_days <= 0:
        raise InputError("the agreed review time must be more than 0 days")
    start, end = month_bounds(month)
    as_of = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    received = (sa.select(hits.c.hit_id, hits.c.crime_ref, hits.c.subject_id, hits.c.offence,
                          hits.c.first_received_at.label("received"))
                .where(hits.c.first_received_at >= start, hits.c.first_received_at < end).subquery("received"))
    latest, on_latest = latest_event(received.c.hit_id, as_of)
    rows_query = (sa.select(received, latest.c.outcome, latest.c.note.label("latest_note"))
                  .select_from(received.outerjoin(latest, on_latest))
                  .order_by(received.c.received, received.c.hit_id))
    events_query = (sa.select(review_events.c.hit_id, review_events.c.at, review_events.c.outcome)
                    .join(received, received.c.hit_id == review_events.c.hit_id)
                    .where(review_events.c.at <= as_of).order_by(review_events.c.seq))
    with read_connection(get_engine(db_url)) as conn:
        rows, events = (pd.DataFrame.from_records(result.all(), columns=list(result.keys()))
                        for result in (conn.execute(rows_query), conn.execute(events_query)))
    rows = _audit_rows(rows, events)
    summary = _summary(month, start, end, as_of, review_days, rows, events, db_url)
    return AuditReport(month, start, end, as_of, review_days, rows, summary)


def _audit_rows(rows: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """One row per hit with its first review, days to it, current outcome and actions (``events`` oldest first)."""
    received = pd.to_datetime(rows["received"], utc=True)
    at = pd.to_datetime(events["at"], utc=True)
    first = at.groupby(events["hit_id"]).min().reindex(rows["hit_id"])
    first_review = pd.Series(pd.to_datetime(first.to_numpy(), utc=True), index=rows.index)
    labels = at.dt.tz_convert(UK).dt.strftime("%Y-%m-%d") + " " + events["outcome"]
    actions = labels.groupby(events["hit_id"]).agg("; ".join).reindex(rows["hit_id"]).fillna("")
    return pd.DataFrame({
        "hit_id": rows["hit_id"],
        "crime_ref": rows["crime_ref"],
        "subject_id": rows["subject_id"],
        "offence": rows["offence"],
        "received": received,
        "first_review": first_review,
        "days_to_first_review": ((first_review - received).dt.total_seconds() / 86400.0).round(2),
        "current_outcome": rows["outcome"].fillna(PENDING),
        "action_taken": actions.to_numpy(),
        "latest_note": rows["latest_note"].fillna(""),
    }).reset_index(drop=True)


def _summary(month: str, start: datetime, end: datetime, as_of: datetime, review_days: float,
             rows: pd.DataFrame, events: pd.DataFrame, db_url: str | None) -> list[tuple[str, Any]]:
    agreed = timedelta(days=review_days)
    reviewed = rows["first_review"].notna()
    in_time = reviewed & (rows["first_review"] - rows["received"] <= agreed)
    pending_late = ~reviewed & (rows["received"] + agreed < pd.Timestamp(as_of))
    chain, hit_rows = verify_chain(db_url), verify_hits(db_url)
    summary: list[tuple[str, Any]] = [
        ("Month (UK calendar month, Europe/London)", month),
        ("Period start (UK time)", format_uk(pd.Timestamp(start))),
        ("Period end, exclusive (UK time)", format_uk(pd.Timestamp(end))),
        ("Outcomes as of (UK time)", format_uk(pd.Timestamp(as_of))),
        ("Agreed time to first review (days)", review_days),
        ("Hits received", len(rows)),
        ("Hits reviewed", int(reviewed.sum())),
        ("Reviewed within the agreed time", int(in_time.sum())),
        ("Reviewed after the agreed time", int((reviewed & ~in_time).sum())),
        ("Pending (not yet reviewed)", int((~reviewed).sum())),
        ("Pending past the agreed time", int(pending_late.sum())),
    ]
    counts = rows["current_outcome"].value_counts()
    summary += [(f"Current outcome: {outcome}", int(counts.get(outcome, 0))) for outcome in (PENDING, *OUTCOMES)]
    summary += [
        ("Hits with an arrest (any event)", events.loc[events["outcome"] == "arrest", "hit_id"].nunique()),
        ("Hits with a charge (any event)", events.loc[events["outcome"] == "charge", "hit_id"].nunique()),
        ("Review chain verified at export", "yes" if chain.ok else f"NO: event {chain.broken_seq}: {chain.problem}"),
        ("Hit rows verified at export", "yes" if hit_rows.ok else f"NO: {hit_rows.problems[0]}"),
        ("Audit key (HMAC) of chain and seals", chain.key_id if chain.key_id and chain.n_keyed else
         "none: detects accidental edits, not a forger with database access"),
        ("Review chain events", chain.head_seq),
        ("Review chain head (SHA-256)", chain.head_hash),
        ("Produced by", f"geomatch {__version__}"),
    ]
    return summary


def write_audit(report: AuditReport, path: Path) -> Path:
    """Write the audit as ``.xlsx`` (Hits and Summary sheets) or ``.csv`` (the hit rows); text neutralised."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError(f"the audit file must end in .xlsx or .csv, not '{path.name}'", file=str(path))
    if not path.parent.exists():
        raise InputError("the folder does not exist", file=str(path.parent))
    if suffix == ".csv":
        frame = report.rows.copy()
        for column in ("received", "first_review"):  # ISO 8601 in UK local time with the offset
            local = frame[column].dt.floor("s").dt.tz_convert(UK).dt.strftime("%Y-%m-%dT%H:%M:%S%z")
            frame[column] = local.str.replace(r"(\d{2})(\d{2})$", r"\1:\2", regex=True).fillna("")
        write_safe_csv(frame.rename(columns=COLUMNS), path)
    else:
        _write_xlsx(report, path)
    return path


def _write_xlsx(report: AuditReport, path: Path) -> None:
    book = Workbook(write_only=True)
    _fill(book.create_sheet("Summary"), ["Measure", "Value"], [list(item) for item in report.summary])
    frame = report.rows.astype(object).where(report.rows.notna(), None)
    for column in ("received", "first_review"):  # Excel has no time zones: UK local wall-clock time
        local = report.rows[column].dt.floor("s").dt.tz_convert(UK).dt.tz_localize(None)
        frame[column] = pd.Series(local.dt.to_pydatetime(), dtype=object).where(local.notna(), None)
    formats = {4: _XLSX_DATETIME, 5: _XLSX_DATETIME, 6: "0.00"}
    _fill(book.create_sheet("Hits"), list(COLUMNS.values()), frame.values.tolist(), formats, autofilter=True)
    stamp = report.as_of.replace(tzinfo=None, microsecond=0)
    book.properties.created = book.properties.modified = stamp
    book.save(path)


def _fill(sheet: Any, header: list[str], records: list[list[Any]], formats: dict[int, str] | None = None,
          *, autofilter: bool = False) -> None:
    """A write-only sheet: header, rows (text neutralised, ``formats`` by column index), frozen header, widths."""
    formats = formats or {}
    for index, name in enumerate(header):
        lengths = [len(name)] + [16 if isinstance(r[index], datetime) else len(str(r[index] or ""))
                                 for r in records[:2000]]
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(lengths) + 2, _MAX_WIDTH)
    sheet.freeze_panes = "A2"
    if autofilter:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(records) + 1}"
    sheet.append([neutralise_cell(h) for h in header])
    for record in records:
        values: list[Any] = [neutralise_cell(v) for v in record]
        for index, number_format in formats.items():
            cell = WriteOnlyCell(sheet, value=values[index])
            cell.number_format = number_format
            values[index] = cell
        sheet.append(values)
