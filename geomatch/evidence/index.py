"""``index.html`` for an evidence run: one row per hit with a map thumbnail, sortable by any column, linking to
each pack. Offline (no scripts or styles from elsewhere); text from the inputs is HTML-escaped."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from geomatch.evidence.htmlmap import CSP
from geomatch.evidence.text import fmt_duration, fmt_m, fmt_time, offence_name
from geomatch.match.matcher import PRESENCE_CLASSES
from geomatch.core.safe import escape_html as esc

_INDEX_CSP = CSP.replace("img-src data:", "img-src 'self' file: data:")  # the packs' map thumbnails
_STYLE = """
body{font:14px/1.4 system-ui,Arial,sans-serif;margin:1em;color:#111}
table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:3px 6px;vertical-align:middle}
th{background:#eee;cursor:pointer;user-select:none;position:sticky;top:0}th[aria-sort=ascending]::after{content:" ▲"}
th[aria-sort=descending]::after{content:" ▼"}td.n{text-align:right}img{width:120px;height:auto;display:block}
"""
_SCRIPT = """
(function(){const table=document.getElementById('hits');const body=table.tBodies[0];
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


def _cell(text: str, sort: object, numeric: bool = False) -> str:
    if numeric:
        value = "" if sort is None or (isinstance(sort, float) and not math.isfinite(sort)) else f"{float(sort):.6g}"
        return f'<td class="n" data-sort="{value}">{text}</td>'
    return f'<td data-sort="{esc(sort)}">{text}</td>'


def render_index(hits: pd.DataFrame, folders: list[str]) -> str:
    """The index page for ``hits`` whose packs lie in ``folders`` (relative to the page), in the same order."""
    scored = "score" in hits.columns
    reasons = "reasons" in hits.columns
    headers = [("Map", "text"), ("Subject", "text"), ("Crime", "text"), ("Offence", "text"), ("Presence", "num"),
               ("Closest approach (m)", "num"), ("Closest time (UK)", "num"), ("Time in zone", "num"),
               ("Fixes in zone", "num")]
    headers += [("Score", "num")] if scored else []
    headers += [("Reasons", "text")] if reasons else []
    headers += [("Pack", "text")]
    rank = {name: i for i, name in enumerate(PRESENCE_CLASSES)}
    rows = []
    for folder, hit in zip(folders, hits.to_dict("records")):
        link = esc(folder)
        cells = [
            _cell(f'<a href="{link}/map.html"><img src="{link}/map.png" loading="lazy" alt="map of hit '
                  f'{esc(hit["hit_id"])}"></a>', hit["hit_id"]),
            _cell(esc(hit["subject_id"]), hit["subject_id"]),
            _cell(esc(hit["crime_ref"]), hit["crime_ref"]),
            _cell(esc(offence_name(hit["offence"])), hit["offence"]),
            _cell(esc(hit["presence"]), rank.get(hit["presence"], len(rank)), numeric=True),
            _cell(esc(fmt_m(hit["min_distance_m"])), hit["min_distance_m"], numeric=True),
            _cell(esc(fmt_time(hit["closest_time"])), pd.Timestamp(hit["closest_time"]).value / 1e9, numeric=True),
            _cell(esc(fmt_duration(hit["time_in_zone_s"])), hit["time_in_zone_s"], numeric=True),
            _cell(str(int(hit["n_fixes_in_zone"])), hit["n_fixes_in_zone"], numeric=True),
        ]
        if scored:
            score = float(hit["score"]) if pd.notna(hit["score"]) else float("nan")
            cells.append(_cell("—" if math.isnan(score) else f"{score:.0f}", score, numeric=True))
        if reasons:
            cells.append(_cell(esc(hit["reasons"]), hit["reasons"]))
        cells.append(_cell(f'<a href="{link}/statement.pdf">PDF</a> · <a href="{link}/statement.docx">DOCX</a> · '
                           f'<a href="{link}/map.html">map</a> · <a href="{link}/timeline.png">timeline</a> · '
                           f'<a href="{link}/points.csv">points</a>', folder))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f'<th data-type="{kind}" scope="col">{esc(name)}</th>' for name, kind in headers)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_INDEX_CSP}">'
            f"<title>geomatch evidence packs</title><style>{_STYLE}</style></head><body>"
            f"<h1>Evidence packs: {len(rows)} hit(s)</h1><p>Click a column heading to sort. Times are UK local "
            f"time with the offset; distances in metres.</p>"
            f'<table id="hits"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f"<script>{_SCRIPT}</script></body></html>\n")


def write_index(hits: pd.DataFrame, folders: list[str], path: Path) -> Path:
    """Write ``index.html``."""
    path.write_text(render_index(hits, folders), encoding="utf-8")
    return path
