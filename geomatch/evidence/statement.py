"""The statement's content, once, as a list of blocks; ``docx`` and ``pdf`` render the same blocks.

The wording is ours. It follows the shape of the MoJ's proximity-alert evidence: a summary of the request and
the matched person, the allegation, the measurements, what a hit does and does not show, a statement in the
form of s.9 Criminal Justice Act 1967, numbered exhibits and a key to the map symbols. Every time is UK local
time with its offset; every distance is in metres.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geomatch.core.times import utc_ns
from geomatch.evidence.context import PackData
from geomatch.evidence.points import points_table
from geomatch.evidence.style import map_key
from geomatch.scoring.reasons import FACTS, coverage_phrase, presence_phrase, with_article
from geomatch.evidence.text import (PRESENCE_WORDS, fmt_duration, fmt_kmh, fmt_m, fmt_time, grid_phrase,
                                    offence_name, plain, zone_names)

MAX_TABLE_ROWS = 150
"""Rows of the points table printed in the statement; ``points.csv`` always has them all."""


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Para:
    text: str
    bold: bool = False


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...] | None
    rows: tuple[tuple[str, ...], ...]
    small: bool = False
    widths: tuple[float, ...] | None = None  # relative column widths (label and value columns by default)


@dataclass(frozen=True)
class Picture:
    path: Path
    caption: str


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Para | Table | Picture | PageBreak


@dataclass(frozen=True)
class Exhibits:
    """The exhibit files of a pack, in exhibit order (numbered 1, 2, 3)."""

    map_png: Path
    timeline_png: Path
    points_csv: Path


def exhibit_ref(hit_id: str, number: int) -> str:
    """The reference of exhibit ``number`` of a pack, e.g. ``H0123456789abcdef/2``."""
    return f"{hit_id}/{number}"


def _crime_location(crime) -> str:
    text = f"easting {float(crime['x']):,.1f} m, northing {float(crime['y']):,.1f} m (grid)"
    if pd.notna(crime.get("lat")) and pd.notna(crime.get("lon")):
        text += f"; latitude {float(crime['lat']):.6f}, longitude {float(crime['lon']):.6f} (WGS84)"
    return text


def _optional(value: object) -> str:
    return "—" if value is None or pd.isna(value) else plain(value)


def build_statement(data: PackData, exhibits: Exhibits, *, version: str, inputs: tuple[str, ...],
                    crs: str, points: pd.DataFrame | None = None) -> list[Block]:
    """Every block of the statement for one hit, in order; ``crs`` is the metric CRS of the distances;
    ``points`` is the pack's table of points (:func:`~geomatch.evidence.points.points_table` of ``data``) when
    made already."""
    hit, crime = data.hit, data.crime
    hid, subject, ref = hit["hit_id"], plain(hit["subject_id"]), plain(hit["crime_ref"])
    facts = _facts(data)
    offence = f"{offence_name(hit['offence'])} ({hit['offence']})"
    window = f"{fmt_time(hit['window_start'])} to {fmt_time(hit['window_end'])}"
    committed = f"{fmt_time(crime['committed_from'])} to {fmt_time(crime['committed_to'])}"
    near = data.vicinity
    window_gaps = data.gaps[data.gaps["in_window"]]
    ex = [exhibit_ref(hid, n) for n in (1, 2, 3)]
    truncated = [Para(f"Only the first {MAX_TABLE_ROWS} of {len(near)} positions are printed; "
                      f"{exhibits.points_csv.name} holds all of them.")] if len(near) > MAX_TABLE_ROWS else []
    blocks: list[Block] = [
        Heading(f"Location-monitoring evidence pack: hit {hid}", 0),
        Para(f"Subject {subject} · crime {ref} · {offence}. All times are UK local time with the offset from UTC "
             f"shown ({zone_names(pd.Series([hit['window_start'], hit['window_end']]))}); distances are in metres "
             f"{grid_phrase(crs)}."),
        Heading("1. Summary of the request and the matched person"),
        Para(f"Crime {ref} was compared automatically with the location-monitoring trails of tagged subjects. "
             f"{_summary_sentence(hit, subject, facts)} This pack sets out what the trail shows."),
        Table(None, (
            ("Hit reference", hid),
            ("Subject reference", subject),
            ("Crime reference", ref),
            ("Offence", offence),
            ("Presence class", str(hit["presence"])),
            ("Match zone", f"{fmt_m(hit['radius_m'])} radius around the crime location"),
            ("Window searched", f"{window} (the committed window widened by the padding for this offence)"),
            ("Produced by", f"geomatch {version}"),
            ("Input files", "; ".join(inputs) if inputs else "—"),
        )),
        Heading("2. Details of the allegation"),
        Table(None, (
            ("Crime reference", ref),
            ("Offence", offence),
            ("Committed from", fmt_time(crime["committed_from"])),
            ("Committed to", fmt_time(crime["committed_to"])),
            ("Location", _crime_location(crime)),
            ("Location accuracy", fmt_m(float(crime.get("location_accuracy_m", float("nan"))))),
            ("Area", _optional(crime.get("area"))),
            ("Details recorded", _optional(crime.get("free_text"))),
            ("Notes", "; ".join(note for flag, note in (
                (crime.get("dst_adjusted", False), "a local time fell in a clock-change hour; the window was "
                                                    "widened to cover every reading of it"),
                (crime.get("long_window", False), "the committed window is longer than the usual maximum, so a "
                                                   "hit says less")) if flag) or "—"),
        )),
        Heading("3. Measurements"),
        Table(None, (
            ("Presence class", str(hit["presence"])),
            ("Closest approach", f"{fmt_m(hit['min_distance_m'])} at {fmt_time(hit['closest_time'])}"),
            *_fact_rows(data, facts),
            ("Position at closest approach", f"easting {float(hit['closest_x']):,.1f} m, northing "
                                             f"{float(hit['closest_y']):,.1f} m"),
            ("Source of the position", f"{plain(hit['source_at_closest'])}, reported accuracy "
                                       f"{fmt_m(hit['accuracy_at_closest_m'])}"),
            ("Speed at closest approach", fmt_kmh(hit["speed_at_closest_mps"])),
            ("First inside the zone", fmt_time(hit["first_in"])),
            ("Last inside the zone", fmt_time(hit["last_out"])),
            ("Time inside the zone", fmt_duration(hit["time_in_zone_s"])),
            ("Recorded positions inside the zone", f"{int(hit['n_fixes_in_zone'])}"),
            ("Longest interval between positions", fmt_duration(hit["max_gap_s"])),
            ("Gaps in the trail during the window",
             "; ".join(f"{fmt_time(g.start)} to {fmt_time(g.end)} ({fmt_duration(g.duration_s)})"
                       for g in window_gaps.itertuples()) or "none (no interval over "
                                                               f"{fmt_duration(data.interp_max_gap_s)})"),
            *((("Score", f"{float(hit['score']):.0f} / 100"),) if pd.notna(hit.get("score")) else ()),
            *((("Reasons", plain(hit["reasons"])),) if pd.notna(hit.get("reasons")) else ()),
        )),
        Para(PRESENCE_WORDS[str(hit["presence"])]),
        *(Para(text) for text in reachable_area_sentences(data, ex[0])),
        Heading("4. What a hit shows and what it does not"),
        Para("A hit shows that positions recorded by the subject's location-monitoring tag were within the stated "
             "distance of the location recorded for the crime, during the stated window. It does not show that "
             "the subject committed the crime, was at the exact address, or was there at the moment of the "
             "offence."),
        Para("Each position has an accuracy radius reported by the tag; the true position was probably within it. "
             "Mobile-network (LBS) positions are much coarser than satellite (GPS) positions. Between two positions "
             "the route is not known: the straight lines on the map only join them. During a gap no positions were "
             "recorded and the subject's whereabouts are unknown."),
        Para("The crime's location and times are as recorded by the police and may themselves be approximate. The "
             "subject may have a lawful reason to be in the area (home, work, travel). A hit is information for an "
             "offender manager or investigator to assess alongside other enquiries, not proof."),
        PageBreak(),
        Heading("5. Witness statement"),
        Para("WITNESS STATEMENT (form of Criminal Justice Act 1967, s.9; Magistrates' Courts Act 1980, s.5B; "
             "Criminal Procedure Rules, Part 16)", bold=True),
        Table(None, (("Statement of", ""), ("Age if under 18", "over 18"), ("Occupation", ""), ("URN", ""))),
        Para("I make this statement believing it to be true. I understand that if it is given in evidence I may be "
             "prosecuted if I have knowingly put in it anything that is false or that I do not believe to be true."),
        Para(f"I have examined the location-monitoring data for subject {subject} alongside crime {ref} ({offence}), "
             f"recorded as committed between {committed} at {_crime_location(crime)}."),
        Para(f"The data were compared by the geomatch software, version {version}, using a match zone of "
             f"{fmt_m(hit['radius_m'])} around the crime location and the window {window}. The result is the "
             f"hit {hid}, presence class '{hit['presence']}'."),
        Para(f"The closest approach of the subject's trail to the crime location within that window was "
             f"{fmt_m(hit['min_distance_m'])}, at {fmt_time(hit['closest_time'])}"
             f"{facts.closest if facts else ''}. The trail recorded "
             f"{int(hit['n_fixes_in_zone'])} position(s) inside the zone and spent "
             f"{fmt_duration(hit['time_in_zone_s'])} inside it. The longest interval between recorded positions "
             f"during the window was {fmt_duration(hit['max_gap_s'])}."),
        Para(f"I produce as exhibit {ex[0]} a map of the trail around the crime location, as exhibit {ex[1]} a "
             f"chart of the distance from the crime location against time, and as exhibit {ex[2]} a table of the "
             f"{len(near)} recorded positions in the vicinity (file {exhibits.points_csv.name}). They are attached "
             f"to this statement."),
        Table(None, (("Signature", ""), ("Date", ""))),
        PageBreak(),
        Heading("6. Exhibits"),
        Picture(exhibits.map_png, f"Exhibit {ex[0]}: map of the trail around the crime location (file "
                                  f"{exhibits.map_png.name}). Symbols are explained in section 7."),
        Picture(exhibits.timeline_png, f"Exhibit {ex[1]}: distance from the crime location against time (file "
                                       f"{exhibits.timeline_png.name})."),
        Para(f"Exhibit {ex[2]}: the {len(near)} recorded positions in the vicinity (file "
             f"{exhibits.points_csv.name}). Sequence numbers match the map labels; direction is degrees clockwise "
             f"from grid north; speed is the mean over the steps either side of the position.", bold=True),
        _points_block(data, points),
        *truncated,
        Heading("7. Key to map symbols"),
        Table(("Symbol", "Meaning"), tuple((k.symbol, k.meaning) for k in map_key(crs))),
    ]
    return blocks


@dataclass(frozen=True)
class _Facts:
    """The sentences told from the matcher's facts of a hit, made once per statement: what placed the subject
    near the scene, the tag's coverage of the committed window and what the closest approach is (``""`` when
    the hit has no closest approach)."""

    presence: str
    coverage: str
    closest: str


def _facts(data: PackData) -> _Facts | None:
    """The hit's :class:`_Facts`, or ``None`` for a hit matched before the matcher recorded its facts."""
    hit = data.hit
    if not all(name in hit for name in FACTS):
        return None
    row = dict(hit)
    return _Facts(presence_phrase(row), coverage_phrase(row), _closest_what(data))


def _summary_sentence(hit, subject: str, facts: _Facts | None) -> str:
    """Why this is a hit, from the matcher's facts (neutral wording for hits matched before they existed)."""
    if facts is None:
        return (f"The trail of subject {subject} came within {fmt_m(hit['min_distance_m'])} of the recorded crime "
                f"location within the padded window, which made this hit.")
    return f"For subject {subject}: {facts.presence}; {facts.coverage}."


def _seq_at(data: PackData, time) -> str:
    """The sequence number (as on the map and in exhibit 3) of the fix at ``time``, or "—"."""
    if time is None or pd.isna(time):
        return "—"
    match = np.flatnonzero(utc_ns(data.fixes["timestamp"]) == pd.Timestamp(time).value)
    return str(int(data.fixes["seq"].iloc[match[0]])) if len(match) else "—"


def _closest_what(data: PackData) -> str:
    """", recorded position 12 (a GPS fix, accuracy 8.0 m)" or ", a point on the straight line between recorded
    positions 12 and 13 (60 s apart)"."""
    hit = data.hit
    if pd.isna(hit.get("min_distance_m")):
        return ""
    if hit["closest_kind"] == "segment":
        apart = (pd.Timestamp(hit["closest_next_fix_time"]) - pd.Timestamp(hit["closest_fix_time"])).total_seconds()
        return (f", a point on the straight line between recorded positions {_seq_at(data, hit['closest_fix_time'])} "
                f"and {_seq_at(data, hit['closest_next_fix_time'])} ({fmt_duration(apart)} apart); no position was "
                f"recorded there")
    return (f", recorded position {_seq_at(data, hit['closest_fix_time'])} "
            f"({with_article(plain(hit['source_at_closest']))} fix, "
            f"reported accuracy {fmt_m(hit['accuracy_at_closest_m'])})")


def _fact_rows(data: PackData, facts: _Facts | None) -> tuple[tuple[str, str], ...]:
    """The measurements table's rows for what the closest approach is, the committed window and its coverage,
    what made a possible hit, and the quality of the positions shown."""
    hit = data.hit
    if facts is None:
        return ()
    rows = [("What the closest approach is", facts.closest.removeprefix(", ") or "—"),
            ("Closest approach during the committed window",
             f"{fmt_m(hit['min_distance_committed_m'])} at {fmt_time(hit['closest_time_committed'])}"
             if pd.notna(hit["min_distance_committed_m"]) else "no trail during the committed window"),
            ("Time inside the zone during the committed window", fmt_duration(hit["time_in_zone_committed_s"])),
            ("Tag coverage during the committed window", facts.coverage.split(": ", 1)[1])]
    if hit["presence"] == "possible":
        rows.append(("What makes it possible", facts.presence.split(": ", 1)[1].split("; closest")[0]))
    if "quality" in data.fixes.columns:
        flagged = data.vicinity[data.vicinity["quality"].astype(str) != "ok"]
        rows.append(("Positions flagged by the trail-quality check",
                     "; ".join(f"{int(r.seq)}: {plain(r.quality)} ({plain(r.quality_reason)})"
                               for r in flagged.itertuples()) or "none of the positions listed"))
    return tuple(rows)


_POINT_HEADER = ("Seq", "UK local time", "Latitude", "Longitude", "Conf. radius (m)", "Speed (km/h)",
                 "Direction (°)", "Distance (m)", "Source")


def _points_block(data: PackData, points: pd.DataFrame | None = None) -> Table:
    """Exhibit 3 as printed: the columns of the MoJ table plus the distance to the scene (of ``points``, the
    pack's :func:`~geomatch.evidence.points.points_table`, made here when not given)."""
    table = (points_table(data) if points is None else points).head(MAX_TABLE_ROWS)

    def num(column: str, digits: int) -> list[str]:
        return ["—" if math.isnan(v) else f"{v:.{digits}f}" for v in table[column].to_numpy(float).tolist()]

    rows = tuple(zip([str(v) for v in table["sequence"].tolist()], table["time_uk"].tolist(), num("latitude", 6),
                     num("longitude", 6), num("confidence_radius_m", 1), num("speed_kmh", 1),
                     num("direction_deg", 0), num("distance_to_scene_m", 1),
                     [plain(v) for v in table["source"].tolist()]))
    return Table(_POINT_HEADER, rows, small=True, widths=(0.055, 0.235, 0.11, 0.11, 0.095, 0.08, 0.085, 0.11, 0.12))


def reachable_area_sentences(data: PackData, map_ref: str) -> list[str]:
    """One paragraph per gap that made a ``possible`` hit: its ends, the plausible speed, the ellipse of places
    reachable during it (:mod:`geomatch.evidence.prism`) and when the zone could have been visited."""
    sentences = []
    for p in data.prisms:
        sentences.append(
            f"Reachable area. No position was recorded for {fmt_duration(p.duration_s)}, from fix {p.start_seq} "
            f"at {fmt_time(p.start)} to fix {p.end_seq} at {fmt_time(p.end)}. At the plausible speed of "
            f"{fmt_kmh(p.speed_mps)} ({p.speed_source}) the subject could have been anywhere inside an ellipse "
            f"with those two fixes as its foci, {fmt_m(2 * p.semi_major_m)} long and {fmt_m(2 * p.semi_minor_m)} "
            f"wide (the tinted area with a dashed outline on the map, exhibit {map_ref}), and could have reached "
            f"the match zone and left it again between {fmt_time(p.zone_from)} and {fmt_time(p.zone_to)}. This is "
            f"where the subject could have been, not where the subject was.")
    return sentences
