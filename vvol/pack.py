"""The tasking pack: ``index.html``, ``tasking.xlsx``, one CSV per list, ``quarantine/`` and ``manifest.json``.

Everything in the pack is deterministic for the same inputs and configuration except the manifest's
``generated_at``: lists are sorted, figures carry no dates, and the workbook's zip entries and document
properties are stamped with the as-of date instead of the wall clock.
"""
from __future__ import annotations

import base64
import io
import re
import zipfile
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from geomatch.core.crs import transform_info
from geomatch.core.manifest import write_manifest
from geomatch.core.safe import neutralise_frame, write_safe_csv
from geomatch.core.times import format_uk
from vvol import charts
from vvol.pipeline import Tasking
from vvol.repeats import as_of_day

LISTS = {  # file stem: (id column, score components)
    "victims": ("person_id", ["recency_points", "frequency_points", "gravity_points", "offenders_points"]),
    "offenders": ("person_id", ["recency_points", "frequency_points", "gravity_points", "victims_points"]),
    "locations": ("location_id", ["recency_points", "frequency_points", "gravity_points"]),
    "clusters": ("cluster_id", ["recency_points", "frequency_points", "gravity_points", "victims_points"]),
}
XLSX_MAX_WIDTH = 60


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
    """``tasking.xlsx``: a sheet per list (typed cells, frozen header and id, fitted widths) and an ``about``
    sheet with the bands; each sheet holds the top ``xlsx_max_rows`` rows (the CSV files hold all)."""
    book = Workbook()
    book.remove(book.active)
    for name, (id_column, _) in LISTS.items():
        frame = neutralise_frame(getattr(tasking, name).head(tasking.config.xlsx_max_rows))
        sheet = book.create_sheet(name)
        sheet.append(list(frame.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in row])
        sheet.freeze_panes = "B2"
        for i, column in enumerate(frame.columns, start=1):
            text = frame[column].astype(str)
            width = max(len(str(column)), int(text.str.len().quantile(0.95)) if len(text) else 0) + 2
            sheet.column_dimensions[get_column_letter(i)].width = min(width, XLSX_MAX_WIDTH)
    about = book.create_sheet("about")
    for row in _about_rows(tasking):
        about.append(row)
    about.column_dimensions["A"].width = 28
    about.column_dimensions["B"].width = 100
    stamp = tasking.as_of.tz_convert(None).to_pydatetime()
    book.properties.created = stamp
    buffer = io.BytesIO()
    book.save(buffer)
    _write_stable_zip(buffer.getvalue(), path, stamp.timetuple()[:6])
    return path


def _cell(value):
    """A value openpyxl stores with its type: numbers as numbers, booleans as booleans, missing as empty."""
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if value is None or value is pd.NA:
        return None
    return value


def _write_stable_zip(data: bytes, path: Path, stamp: tuple) -> None:
    """Rewrite a workbook zip with every entry dated ``stamp`` and the document's ``modified`` time equal to its
    ``created`` time (openpyxl stamps the wall clock on save), so the same pack has the same bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in sorted(source.infolist(), key=lambda i: i.filename):
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                created = re.search(r"<dcterms:created[^>]*>([^<]*)<", text).group(1)
                content = re.sub(r"(<dcterms:modified[^>]*>)[^<]*<", rf"\g<1>{created}<", text).encode("utf-8")
            info = zipfile.ZipInfo(item.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, content)


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
        "window": f"rolling {c.window_days} days up to the end of the as-of day; a repeat has {c.min_repeat} or more "
                  f"crimes in it (victims, offenders and suspects, premises)",
        "period": f"{c.period_days} days; trend compares the last period with the one before",
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
    """``index.html``: summary, rules, the top of each list with reasons, maps and trend charts (offline)."""
    c = tasking.config
    crimes = tasking.window.crimes
    lists = {name: getattr(tasking, name) for name in LISTS}
    figures = {
        "locations_map": _data_uri(charts.locations_map(crimes, tasking.locations)),
        "clusters_map": _data_uri(charts.clusters_map(crimes, tasking.clusters, tasking.links.cluster_crime,
                                                      tasking.links.ids)),
        "trend": _data_uri(charts.trend_chart(crimes, lists, c.period_days, c.window_days)),
    }
    sections = []
    for name, (id_column, components) in LISTS.items():
        frame = lists[name]
        shown = [id_column, "score", *components, "uplift_pct", "trend", "crimes_12m", "reasons"]
        if name == "clusters":
            shown.insert(-1, "members")
        top = frame.head(c.top_n)[shown]
        sections.append({
            "name": name, "total": len(frame), "columns": shown,
            "rows": [[_show(v) for v in row] for row in top.itertuples(index=False)],
            "same_type": int((frame["same_type_max"] >= c.min_repeat).sum()) if len(frame) else 0,
            "chart": _data_uri(charts.components_chart(
                frame, id_column, components, c.location_max_points if name == "locations" else c.person_max_points))
            if len(frame) else None,
        })
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(
        resources.files("vvol").joinpath("data", "report.html.j2").read_text(encoding="utf-8"))
    html = template.render(
        as_of=f"{as_of_day(tasking.as_of)} (crimes before {format_uk(tasking.as_of)})", area=tasking.area or "all areas", counts=tasking.counts(),
        crimes=tasking.crimes, people=tasking.people, rules=explain(tasking), sections=sections, figures=figures,
        window_crimes=len(crimes), config=c)
    path.write_text(html, encoding="utf-8")
    return path


def _show(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:g}"
    return "" if value is None or value is pd.NA else str(value)


def summary_text(tasking: Tasking, out: Path | str) -> str:
    """A short run summary for the command line: rows in, accepted, quarantined; list lengths; where the pack is."""
    lines = [f"V-VOL as of {as_of_day(tasking.as_of)} (crimes before {format_uk(tasking.as_of)}; "
             f"{tasking.area or 'all areas'}), "
             f"{len(tasking.window.crimes):,} crimes in the {tasking.config.window_days}-day window"]
    tables = [("crimes", tasking.crimes)] + ([("people", tasking.people)] if tasking.people is not None else [])
    for name, validated in tables:
        reasons = ", ".join(f"{k} {v:,}" for k, v in validated.reason_counts().items())
        lines.append(f"  {name}: {validated.rows_in:,} in, {len(validated.accepted):,} accepted, "
                     f"{len(validated.quarantined):,} quarantined" + (f" ({reasons})" if reasons else ""))
    lines.append("  lists: " + ", ".join(f"{name} {len(getattr(tasking, name)):,}" for name in LISTS)
                 + f" (hot spots {len(tasking.hotspots.ids):,})")
    lines.append(f"  pack: {Path(out) / 'index.html'}")
    return "\n".join(lines)
