"""``index.html`` for an evidence run: a table to work from, one row per hit.

Each row holds the hit id, subject, crime, offence, presence, score, coverage (when the hits carry coverage
columns), review status (when known), closest approach, time in the zone, a thumbnail cropped from the map
around the zone, and links to the pack's files. A filter box keeps the rows whose text contains every word
typed; any column heading sorts. A pack that failed has its row with the reason instead of links. Offline:
inline style and a little vanilla script, no request leaves the page (a Content-Security-Policy says so); every
text from the inputs is HTML-escaped.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from geomatch.core.safe import escape_html as esc
from geomatch.evidence.text import fmt_duration, fmt_m, fmt_time, offence_name
from geomatch.match.matcher import PRESENCE_CLASSES

THUMB_NAME = "thumb.png"
"""The pack's thumbnail: ``map.png`` cropped around the zone (written by
:func:`geomatch.evidence.staticmap.draw_map`)."""
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' file: data:"
_STYLE = """
body{font:14px/1.4 system-ui,Arial,sans-serif;margin:1em;color:#111}
table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:3px 6px;vertical-align:middle}
th{background:#eee;cursor:pointer;user-select:none;position:sticky;top:0}th[aria-sort=ascending]::after{content:" ▲"}
th[aria-sort=descending]::after{content:" ▼"}td.n{text-align:right}td.id{font-family:monospace}
img{width:160px;height:160px;display:block}tr.failed td{background:#fdecea}
#filter{font:inherit;padding:4px 8px;width:28em;margin:0 0 .6em}#shown{margin-left:1em;color:#555}
"""
_SCRIPT = """
(function(){const table=document.getElementById('hits');const body=table.tBodies[0];
const box=document.getElementById('filter');const shown=document.getElementById('shown');
function filter(){const words=box.value.toLowerCase().split(/\\s+/).filter(Boolean);let n=0;
 Array.from(body.rows).forEach(function(r){const text=r.textContent.toLowerCase();
  const keep=words.every(function(w){return text.indexOf(w)>=0;});r.hidden=!keep;if(keep)n++;});
 shown.textContent=n+' of '+body.rows.length+' shown';}
box.addEventListener('input',filter);filter();
table.querySelectorAll('th').forEach(function(th,col){th.addEventListener('click',function(){
 const asc=th.getAttribute('aria-sort')!=='ascending';
 table.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
 th.setAttribute('aria-sort',asc?'ascending':'descending');
 const num=th.dataset.type==='num';
 const rows=Array.from(body.rows);
 rows.sort(function(a,b){let x=a.cells[col].dataset.sort,y=b.cells[col].dataset.sort;
  if(num){x=parseFloat(x);y=parseFloat(y);x=isNaN(x)?Infinity:x;y=isNaN(y)?Infinity:y;}
  const c=x<y?-1:x>y?1:0;return asc?c:-c;});
 rows.forEach(function(r){body.appendChild(r);});});});})();
"""


def _cell(text: str, sort: object, numeric: bool = False, css: str = "") -> str:
    klass = " ".join(filter(None, ["n" if numeric else "", css]))
    attr = f' class="{klass}"' if klass else ""
    if numeric:
        value = "" if sort is None or (isinstance(sort, float) and not math.isfinite(sort)) else f"{float(sort):.6g}"
        return f'<td{attr} data-sort="{value}">{text}</td>'
    return f'<td{attr} data-sort="{esc(sort)}">{text}</td>'


def coverage_columns(hits: pd.DataFrame) -> list[str]:
    """The hits' coverage columns (named ``coverage...``, numeric), in their order."""
    return [c for c in hits.columns if str(c).startswith("coverage") and pd.api.types.is_numeric_dtype(hits[c])]


def _coverage_text(value: float) -> str:
    """A coverage figure: a fraction 0..1 as a percentage, anything else as it is."""
    if value is None or pd.isna(value):
        return "—"
    return f"{100 * float(value):.0f} %" if 0.0 <= float(value) <= 1.0 else f"{float(value):,.1f}"


def render_index(hits: pd.DataFrame, packs: Sequence[object],
                 review_status: Mapping[str, str] | None = None) -> str:
    """The index page for ``hits``; ``packs`` holds, in the same order, each hit's pack folder name (relative
    to the page) or the failure of its pack (anything with a ``reason``). Review status comes from
    ``review_status`` (hit id to status) or the hits' ``review_status`` column when either is given."""
    scored = "score" in hits.columns
    coverage = coverage_columns(hits)
    if review_status is None and "review_status" in hits.columns:
        review_status = dict(zip(hits["hit_id"].astype(str), hits["review_status"].astype(str)))
    headers = [("Map", "text"), ("Hit", "text"), ("Subject", "text"), ("Crime", "text"), ("Offence", "text"),
               ("Presence", "num")]
    headers += [("Score", "num")] if scored else []
    headers += [(c.replace("_", " ").capitalize(), "num") for c in coverage]
    headers += [("Review status", "text")] if review_status is not None else []
    headers += [("Closest approach", "num"), ("Closest time (UK)", "num"), ("Time in zone", "num"),
                ("Fixes in zone", "num"), ("Pack", "text")]
    rank = {name: i for i, name in enumerate(PRESENCE_CLASSES)}
    rows, failed = [], 0
    for pack, hit in zip(packs, hits.to_dict("records")):
        hid = str(hit["hit_id"])
        reason = getattr(pack, "reason", None)
        link = esc(str(pack)) if reason is None else ""
        thumb = ("no pack" if reason is not None else
                 f'<a href="{link}/map.png"><img src="{link}/{THUMB_NAME}" loading="lazy" alt="map of hit '
                 f'{esc(hid)} around the zone"></a>')
        cells = [
            _cell(thumb, hid),
            _cell(esc(hid), hid, css="id"),
            _cell(esc(hit["subject_id"]), hit["subject_id"]),
            _cell(esc(hit["crime_ref"]), hit["crime_ref"]),
            _cell(esc(offence_name(hit["offence"])), hit["offence"]),
            _cell(esc(hit["presence"]), rank.get(hit["presence"], len(rank)), numeric=True),
        ]
        if scored:
            score = float(hit["score"]) if pd.notna(hit["score"]) else float("nan")
            cells.append(_cell("—" if math.isnan(score) else f"{score:.0f}", score, numeric=True))
        for column in coverage:
            value = hit[column]
            cells.append(_cell(_coverage_text(value), float(value) if pd.notna(value) else None, numeric=True))
        if review_status is not None:
            status = review_status.get(hid, "—")
            cells.append(_cell(esc(status), status))
        cells += [
            _cell(esc(fmt_m(hit["min_distance_m"])), hit["min_distance_m"], numeric=True),
            _cell(esc(fmt_time(hit["closest_time"])), pd.Timestamp(hit["closest_time"]).value / 1e9, numeric=True),
            _cell(esc(fmt_duration(hit["time_in_zone_s"])), hit["time_in_zone_s"], numeric=True),
            _cell(str(int(hit["n_fixes_in_zone"])), hit["n_fixes_in_zone"], numeric=True),
        ]
        if reason is None:
            cells.append(_cell(f'<a href="{link}/statement.pdf">PDF</a> · <a href="{link}/statement.docx">DOCX</a>'
                               f' · <a href="{link}/map.html">map</a> · <a href="{link}/timeline.png">timeline</a>'
                               f' · <a href="{link}/points.csv">points</a>', pack))
            rows.append(f"<tr>{''.join(cells)}</tr>")
        else:
            failed += 1
            cells.append(_cell(f"pack failed: {esc(reason)}", "failed"))
            rows.append(f'<tr class="failed">{"".join(cells)}</tr>')
    head = "".join(f'<th data-type="{kind}" scope="col">{esc(name)}</th>' for name, kind in headers)
    failures = f" <strong>{failed} pack(s) failed</strong> (shaded rows say why)." if failed else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>geomatch evidence packs</title><style>{_STYLE}</style></head><body>"
            f"<h1>Evidence packs: {len(rows)} hit(s)</h1><p>Type in the box to keep the rows containing every word "
            f"(a subject, a crime, an offence, a status); click a column heading to sort. Times are UK local time "
            f"with the offset; distances in metres. The thumbnail is the map around the match zone; click it for "
            f"the whole map.{failures}</p>"
            f'<input id="filter" type="search" placeholder="Filter: subject, crime, offence, presence, status…" '
            f'aria-label="Filter the hits"><span id="shown"></span>'
            f'<table id="hits"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f"<script>{_SCRIPT}</script></body></html>\n")


def write_index(hits: pd.DataFrame, packs: Sequence[object], path: Path,
                review_status: Mapping[str, str] | None = None) -> Path:
    """Write ``index.html`` (see :func:`render_index`)."""
    path.write_text(render_index(hits, packs, review_status), encoding="utf-8")
    return path
