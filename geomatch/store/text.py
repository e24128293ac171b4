"""The store's contents as text for people: the hit list, one hit in full, the chain check. Times in UK local time.

Every value that came from an input (crime references, subject ids, crime text, review notes, reviewers) is shown
through :func:`geomatch.core.safe.terminal_text`, so an escape sequence in a crime record cannot retitle the
window, write the clipboard or forge a line.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pandas as pd

from geomatch.core.safe import terminal_text
from geomatch.store.chain import ChainReport
from geomatch.store.review import UK, HitRecord, ReviewEvent
from geomatch.store.seal import HitsReport

_UTC_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _value(value: Any) -> str:
    """A stored value for display: UTC times (datetimes or ISO text ending in Z) in UK local time; text with its
    control characters escaped."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, str) and _UTC_TEXT.match(value):
        return _uk_time(datetime.fromisoformat(value))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return _uk_time(value)
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return terminal_text(value)


def _uk_time(instant: datetime) -> str:
    """A timezone-aware instant as :func:`geomatch.core.times.format_uk` writes it (``2026-10-25 01:30:00 +01:00
    (BST)``), with the standard library's datetime: a fifteenth of the time pandas takes, for the dozen times of
    every hit page."""
    local = instant.astimezone(UK)
    minutes = int(local.utcoffset().total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{local:%Y-%m-%d %H:%M:%S} {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d} ({local.tzname()})"


display_value = _value  # public name, for the web pages

def format_hit_list(frame: pd.DataFrame) -> str:
    """The hits from :func:`geomatch.store.list_hits` as an aligned table."""
    if frame.empty:
        return "no hits match"
    shown = pd.DataFrame({
        "hit_id": frame["hit_id"].map(terminal_text),
        "score": frame["score"].map(lambda s: "—" if pd.isna(s) else f"{s:.0f}"),
        "status": frame["status"],
        "subject": frame["subject_id"].map(terminal_text),
        "crime": frame["crime_ref"].map(terminal_text),
        "offence": frame["offence"].map(terminal_text),
        "presence": frame["presence"].fillna("—").map(terminal_text),
        "min_distance_m": frame["min_distance_m"].map(lambda d: "—" if pd.isna(d) else f"{d:.0f}"),
        "closest (UK time)": frame["closest_time"].map(_value),
        "received (UK time)": frame["first_received_at"].map(_value),
    })
    return shown.to_string(index=False) + f"\n{len(frame):,} hit{'' if len(frame) == 1 else 's'}"


def format_hit(record: HitRecord) -> str:
    """One hit in full: measurements, crime (current version) and review history."""
    hit = {key: terminal_text(value) if isinstance(value, str) else value for key, value in record.hit.items()}
    score = "—" if hit["score"] is None else f"{hit['score']:.1f}"
    lines = [
        f"hit {hit['hit_id']}   status: {record.status}   score: {score}",
        f"  subject {hit['subject_id']}, crime {hit['crime_ref']} ({hit['offence']})",
        f"  first received {_value(hit['first_received_at'])} (run {hit['first_run_id']}), "
        f"last seen {_value(hit['last_seen_at'])} (run {hit['last_run_id']})",
        "measurements:",
        *_pairs(record.measurements, skip={"hit_id", "subject_id", "crime_ref", "offence"}),
        f"crime {hit['crime_ref']} (version {record.crime_version}):",
        *_pairs(record.crime, skip={"crime_ref"}),
        f"review events ({len(record.events)}):" if record.events else "review events: none (pending)",
    ]
    for event in record.events:
        lines.append(f"  #{event.seq}  {_value(event.at)}  {event.outcome}  by {terminal_text(event.by)}")
        if event.note:
            lines.append(f"       note: {terminal_text(event.note)}")
    return "\n".join(lines)


def _pairs(fields: dict[str, Any], skip: set[str]) -> list[str]:
    shown = {k: v for k, v in sorted(fields.items()) if k not in skip}
    width = max((len(k) for k in shown), default=0)
    return [f"  {terminal_text(k):<{width}}  {_value(v)}" for k, v in shown.items()]


def format_event(event: ReviewEvent) -> str:
    """A newly recorded review event in one line."""
    return (f"event {event.seq}: hit {terminal_text(event.hit_id)} {event.outcome} by {terminal_text(event.by)} "
            f"at {_value(event.at)}")


def _protection(key_id: str | None) -> str:
    """What an intact check proves: with the key the chain was keyed with, or without one."""
    if key_id is not None:
        return f"keyed with audit key {key_id}: a forger without the key cannot rewrite it"
    return "no audit key: this detects accidental edits, not a forger with write access to the database (--key-file)"


def format_chain(report: ChainReport) -> str:
    """The result of :func:`geomatch.store.verify_chain` in one or two lines."""
    name, entries, key = (("review chain", "events", "hit") if report.entry == "event"
                          else ("access log", "entries", "user"))
    if report.ok:
        events = f"{report.n_events:,} {entries if report.n_events != 1 else report.entry}"
        keyed = f" ({report.n_keyed:,} keyed)" if report.n_keyed else ""
        return (f"{name} intact: {events}{keyed}, head {report.head_hash}; "
                f"{_protection(report.key_id if report.n_keyed else None)}")
    which = f" ({key} {terminal_text(report.broken_hit_id)})" if report.broken_hit_id else ""
    return (f"{name} BROKEN at {report.entry} {report.broken_seq}{which}: {report.problem}\n"
            f"last intact {report.entry}: {report.head_seq} ({report.head_hash})")


def format_hits_check(report: HitsReport) -> str:
    """The result of :func:`geomatch.store.seal.verify_hits`: one line, then one per problem."""
    hits = f"{report.n_hits:,} hit{'' if report.n_hits == 1 else 's'}"
    if not report.ok:
        lines = [f"hit rows BROKEN: {len(report.problems):,} problem(s) in {hits}"]
        return "\n".join(lines + [f"  {terminal_text(problem)}" for problem in report.problems])
    if report.sealed_run is None:
        return (f"hit rows intact: {hits} agree with their recorded content; no run has sealed them (recorded "
                "before seals), so deleted hits and rewritten hashes go unseen until the next run is recorded")
    return (f"hit rows intact: {hits} agree with their recorded content and run {report.sealed_run}'s seal; "
            f"{_protection(report.key_id if report.keyed else None)}")


def format_access_log(frame: pd.DataFrame) -> str:
    """Access-log entries from :func:`geomatch.store.access.list_access` as an aligned table (UK local time)."""
    if frame.empty:
        return "no accesses match"
    shown = pd.DataFrame({"seq": frame["seq"], "when (UK time)": frame["at"].map(_value), "user": frame["username"],
                          "kind": frame["kind"], "action": frame["action"], "what": frame["target"],
                          "from": frame["client"], "detail": frame["detail"]})
    shown = shown.map(lambda v: terminal_text(v) if isinstance(v, str) else v)
    return shown.to_string(index=False) + f"\n{len(frame):,} entr{'y' if len(frame) == 1 else 'ies'}"
