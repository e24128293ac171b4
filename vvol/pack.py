"""The tasking pack: ``index.html``, ``tasking.xlsx``, one CSV per list, ``quarantine/`` and ``manifest.json``.

Everything in the pack is deterministic for the same inputs and configuration except the manifest's
``generated_at``: lists are sorted, figures carry no dates, and the workbook's zip entries and document
properties are stamped with the as-of date instead of the wall clock.
"""
from __future__ import annotations

import base64
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from openpyxl import Workbook

from geomatch.core.crs import transform_info
from geomatch.core.manifest import write_manifest
from geomatch.core.safe import write_safe_csv
from geomatch.core.times import UK_TZ, format_uk
from vvol import charts
from vvol.pipeline import Tasking
from vvol.repeats import as_of_day
from vvol.tables_html import BOOT_SCRIPT, table_spec, tabulator_assets
from vvol.workbook import add_table_sheet, add_text_sheet, save_stable

LISTS = {  # file stem: (id column, score components)
    "victims": ("person_id", ["recency_points", "frequency_points", "gravity_points", "offenders_points"]),
    "offenders": ("person_id", ["recency_points", "frequency_points", "gravity_points", "victims_points"]),
    "locations": ("location_id", ["recency_points", "frequency_points", "gravity_points"]),
    "clusters": ("cluster_id", ["recency_points", "frequency_points", "gravity_points", "victims_points"]),
}
HTML_COLUMNS = {  # list: columns shown in the page (every column is in the CSV and the workbook)
    "victims": ["rank", "person_id", "score", "tied_on_score", "recency_points", "frequency_points",
                "gravity_points", "offenders_points", "uplift_pct", "trend", "crimes_12m", "harm_12m", "last_crime",
                "flags", "reasons"],
    "offenders": ["rank", "person_id", "score", "tied_on_score", "recency_points", "frequency_points",
                  "gravity_points", "victims_points", "uplift_pct", "trend", "crimes_12m", "harm_12m",
                  "last_crime", "flags", "reasons"],
    "locations": ["rank", "place", "kind", "score", "tied_on_score", "recency_points", "frequency_points",
                  "gravity_points", "trend", "crimes_12m", "harm_12m", "last_crime", "area", "location_id",
                  "reasons"],
    "clusters": ["rank", "cluster_id", "score", "tied_on_score", "recency_points", "frequency_points",
                 "gravity_points", "victims_points", "trend", "crimes_12m", "people", "premises", "members",
                 "reasons"],
}


def write_pack(tasking: Tasking, out: Path | str, *, inputs: list[Path]) -> list[Path]:
    """Write the whole pack into ``out``; return the files written (the manifest last)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in LISTS:
        path = out / f"{name}.csv"
        write_safe_csv(getattr(tasking, name), path)
        written.append(path)
    quarantine = out / "quarantine"
    written.append(tasking.crimes.write_quarantine(quarantine))
    if tasking.people is not None:
        written.append(tasking.people.write_quarantine(quarantine))
    written.append(write_workbook(tasking, out / "tasking.xlsx"))
    written.append(write_html(tasking, out / "index.html"))
    manifest = write_manifest(out, tool="vvol score", parameters=tasking.config, inputs=inputs, outputs=written,
                              counts=tasking.counts(), extra={
                                  "as_of": as_of_day(tasking.as_of), "window_end_utc": tasking.as_of.isoformat(),
                                  "area": tasking.area, "harm_table": tasking.harm.describe(),
                                  "coordinates": "EPSG:27700 (British National Grid), metres",
                                  "wgs84_to_bng": transform_info()})
    return written + [manifest]


def write_workbook(tasking: Tasking, path: Path) -> Path:
    """``tasking.xlsx``: a sheet per list as an Excel table (sort and filter buttons, readable headers, the
    latest crime as a date, a colour scale on scores, frozen header and id) and an ``about`` sheet with the
    rules; each list sheet holds the top ``xlsx_max_rows`` rows (the CSV files hold all)."""
    book = Workbook()
    book.remove(book.active)
    months = tasking.window.months
    for name in LISTS:
        frame = getattr(tasking, name).head(tasking.config.xlsx_max_rows).copy()
        frame["last_crime"] = _last_crime_dates(frame, tasking)
        add_table_sheet(book, name, frame, dates={"last_crime": "yyyy-mm" if months else "yyyy-mm-dd hh:mm"},
                        scores=("score",), freeze_columns=2)
    add_text_sheet(book, "about", _about_rows(tasking))
    return save_stable(book, path, tasking.as_of)


def _last_crime_dates(frame: pd.DataFrame, tasking: Tasking) -> pd.Series:
    """The latest crime as a naive UK local datetime (Excel has no time zones), from its days before the as-of."""
    when = tasking.as_of - pd.to_timedelta(frame["days_since_last"].astype(float), unit="D")
    local = when.dt.tz_convert(UK_TZ).dt.tz_localize(None)
    return local.dt.to_period("M").dt.to_timestamp() if tasking.window.months else local.dt.floor("min")


def _about_rows(tasking: Tasking) -> list[list[str]]:
    rows = [["V-VOL tasking pack", ""], ["as of", f"{as_of_day(tasking.as_of)} (crimes before "
                                                    f"{format_uk(tasking.as_of)})"], ["area", tasking.area or "all"]]
    rows += [[k, v] for k, v in explain(tasking).items()]
    return rows


def _bands_text(bands, unit: str) -> str:
    return ", ".join(f"{t:g}+ {unit}: {p:g} pts" for t, p in bands)


def explain(tasking: Tasking) -> dict[str, str]:
    """The scoring rules of this run in words (shown in the HTML and the workbook)."""
    c = tasking.config
    h = tasking.harm
    return {
        "dates": ("month-level (police.uk gives a month, not a time; every crime is dated the 1st of its month): the "
                  "window and the periods are whole calendar months, and the trend compares months with months"
                  if tasking.window.months else "day-level: the window and the periods are counted in days"),
        "window": f"{tasking.window.window_text} up to the end of the as-of day; a repeat has {c.min_repeat} or "
                  f"more crimes in it (victims, offenders and suspects, premises)",
        "period": f"this period: {tasking.window.current_text}; the period before: {tasking.window.previous_text}",
        "order": "score, then (for equal scores) harm in the window, crimes in the window, the most recent crime, "
                 "the id; rank is shared only by rows equal on all of them; tied_on_score says how many rows "
                 "share the score",
        "one place, one entry": "a hot spot whose crimes are exactly those of a listed premises is listed once, as "
                                "that premises (same_as_hotspot); place is the commonest location text of its "
                                "crimes",
        "recency": f"{c.recency_points:g} pts for a crime today, halving every {c.recency_half_life_days:g} days",
        "frequency": "people and clusters: " + _bands_text(c.frequency_bands, "crimes"),
        "gravity": "people and clusters: " + _bands_text(c.gravity_bands, "harm") + f" (harm table: {h.source}, {h.year})",
        "places": "frequency " + _bands_text(c.location_frequency_bands, "crimes") + "; gravity "
                  + _bands_text(c.location_gravity_bands, "harm"),
        "people": _bands_text(c.people_bands, "people") + " (victims: different offenders or suspects; "
                  "offenders and clusters: different victims)",
        "uplift": ", ".join(f"{k} +{100 * v:g}%" for k, v in c.uplifts.items()) +
                  f" when any crime in the window carries the flag (on the crime or a victim); at most "
                  f"+{100 * c.max_uplift:g}%",
        "score": f"100 x points / most points (people {c.person_max_points:g}, places {c.location_max_points:g}) "
                 f"x (1 + uplift)",
        "trend": f"new: crimes this period and none before in the window; intensifying: more than the period "
                 f"before and at least x{c.trend_intensifying_ratio:g}; diminishing: none this period, or fewer "
                 f"and at most x{c.trend_diminishing_ratio:g}; otherwise persistent",
        "hot spots": f"DBSCAN, {c.hotspot_eps_m:g} m radius, {c.hotspot_min_crimes} crimes within it make a core",
        "links": f"people and premises sharing {c.link_min_shared} or more crimes are linked; a cluster is a "
                 f"connected group of links",
        "harm weights": "; ".join(f"{k}: {v}" for k, v in h.describe()["basis_counts"].items()) +
                        " rows by basis (only ons_css_2016 rows are ONS figures; see vvol/data/harm_weights.csv)",
    }


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def write_html(tasking: Tasking, path: Path) -> Path:
    """``index.html``: summary, input balance per file, rules, maps and trend charts, and each list as a
    sortable, filterable table (the top ``xlsx_max_rows`` rows; the CSV files hold all). Lists about people are
    shown only when people were given."""
    c = tasking.config
    window = tasking.window
    crimes = window.crimes
    lists = {name: getattr(tasking, name) for name in LISTS}
    figures = {
        "locations_map": _data_uri(charts.locations_map(crimes, tasking.locations, top_n=c.top_n)),
        "trend": _data_uri(charts.trend_chart(crimes, lists, c.period_days, c.window_days,
                                              month_counts=window.month_counts)),
    }
    if tasking.people is not None and len(tasking.clusters):
        figures["clusters_map"] = _data_uri(charts.clusters_map(crimes, tasking.clusters, tasking.links.cluster_crime,
                                                                tasking.links.ids))
    sections = []
    for name, (id_column, components) in LISTS.items():
        if name != "locations" and tasking.people is None:
            continue
        frame = lists[name]
        shown = frame.head(c.xlsx_max_rows)[HTML_COLUMNS[name]]
        sections.append({
            "name": name, "total": len(frame), "shown": len(shown),
            "table": table_spec(shown, element_id=f"list-{name}") if len(frame) else None,
            "top_ties": int(frame["tied_on_score"].iloc[0]) if len(frame) else 0,
            "same_type": int((frame["same_type_max"] >= c.min_repeat).sum()) if len(frame) else 0,
            "chart": _data_uri(charts.components_chart(
                frame, "place" if name == "locations" else id_column, components,
                c.location_max_points if name == "locations" else c.person_max_points))
            if len(frame) else None,
        })
    files = [("crimes", tasking.crimes_files), ("people", tasking.people_files)]
    balance = pd.concat([f.assign(table=n) for n, f in files if f is not None], ignore_index=True)
    balance["source_file"] = balance["source_file"].map(lambda p: Path(p).name)
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(
        resources.files("vvol").joinpath("data", "report.html.j2").read_text(encoding="utf-8"))
    html = template.render(
        as_of=f"{as_of_day(tasking.as_of)} (crimes before {format_uk(tasking.as_of)})",
        area=tasking.area or "all areas", crimes=tasking.crimes, people=tasking.people, rules=explain(tasking),
        sections=sections, figures=figures, window_crimes=len(crimes), config=c, window=window,
        empty_months=_empty_months(window), data_starts=_data_starts(window), files_table=table_spec(
            balance[["table", "source_file", "rows_in", "accepted", "quarantined", "ok"]], element_id="files"),
        assets=tabulator_assets(), boot=BOOT_SCRIPT)
    path.write_text(html, encoding="utf-8")
    return path


def _empty_months(window) -> list[str]:
    """Months of the window without a single crime after its first month with one (on month-level data: usually
    a month missing from the input). Empty months before the first are where the data has not started yet."""
    if window.month_counts is None or not window.month_counts.any():
        return []
    counts = window.month_counts
    first = int(np.flatnonzero(counts.to_numpy() > 0)[0])
    return [str(m) for m, n in counts.iloc[first:].items() if n == 0]


def _data_starts(window) -> str | None:
    """The first month of the window with a crime, when earlier months of the window have none."""
    if window.month_counts is None or not window.month_counts.any():
        return None
    first = int(np.flatnonzero(window.month_counts.to_numpy() > 0)[0])
    return str(window.month_counts.index[first]) if first > 0 else None


def summary_text(tasking: Tasking, out: Path | str) -> str:
    """A short run summary for the command line: rows in, accepted, quarantined; list lengths; where the pack is."""
    window = tasking.window
    lines = [f"V-VOL as of {as_of_day(tasking.as_of)} (crimes before {format_uk(tasking.as_of)}; "
             f"{tasking.area or 'all areas'}), {len(window.crimes):,} crimes in the window of {window.window_text}"]
    if window.months:
        lines.append(f"  dates are months only: periods are calendar months (this period {window.current_text}, "
                     f"the one before {window.previous_text})")
        starts = _data_starts(window)
        if starts:
            lines.append(f"  note: the data starts in {starts}; the window's earlier months have no crimes")
        empty = _empty_months(window)
        if empty:
            lines.append(f"  warning: no crime at all in {', '.join(empty)} (a month missing from the input?); "
                         f"trends over those months are not real")
    tables = [("crimes", tasking.crimes)] + ([("people", tasking.people)] if tasking.people is not None else [])
    for name, validated in tables:
        reasons = ", ".join(f"{k} {v:,}" for k, v in validated.reason_counts().items())
        files = tasking.crimes_files if name == "crimes" else tasking.people_files
        in_files = f" from {len(files) - 1} files" if files is not None and len(files) > 2 else ""
        lines.append(f"  {name}: {validated.rows_in:,} in{in_files}, {len(validated.accepted):,} accepted, "
                     f"{len(validated.quarantined):,} quarantined" + (f" ({reasons})" if reasons else ""))
    lines.append("  lists: " + ", ".join(f"{name} {len(getattr(tasking, name)):,}" for name in LISTS)
                 + f" (hot spots {len(tasking.hotspots.ids):,})")
    lines.append(f"  pack: {Path(out) / 'index.html'}")
    return "\n".join(lines)
