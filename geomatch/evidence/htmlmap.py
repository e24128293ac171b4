"""Exhibit: ``map.html``, the map as one self-contained page (inline SVG and a little inline script).

Zoom with the mouse wheel or the buttons, drag to pan, hover a point for its time, accuracy and speed. The page
fetches nothing: no CDN, no tiles, and a Content-Security-Policy that forbids it. All text from the inputs is
HTML-escaped. Coordinates are metres of the metric CRS, with the y axis flipped for SVG.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from geomatch.evidence.context import EvidenceOptions, PackData
from geomatch.evidence.staticmap import focus_extent, map_extent, nice_length
from geomatch.evidence.style import map_key, time_colour
from geomatch.evidence.text import fmt_duration, fmt_kmh, fmt_m, fmt_time, offence_name, zone_names
from geomatch.core.safe import escape_html as esc

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
_SHAPES = {"GPS": '<circle r="1"/>', "LBS": '<path d="M0,-1.25L1.1,0.7L-1.1,0.7Z"/>',
           "WIFI": '<rect x="-0.9" y="-0.9" width="1.8" height="1.8"/>'}
_OTHER_SHAPE = '<path d="M0,-1.2L1.2,0L0,1.2L-1.2,0Z"/>'

_STYLE = """
body{font:14px/1.4 system-ui,Arial,sans-serif;margin:1em;color:#111}
h1{font-size:1.2em;margin:0 0 .2em}p{margin:.2em 0}
#wrap{position:relative;display:flex;gap:1em;flex-wrap:wrap}
svg{border:1px solid #444;background:#fff;cursor:grab;width:min(92vw,760px);height:min(92vw,760px);touch-action:none}
#north{position:absolute;left:calc(min(92vw,760px) - 4.5em);top:.5em;text-align:center;font-weight:bold;
 pointer-events:none}
#side{max-width:24em}#info{border:1px solid #999;padding:.5em;min-height:6em;background:#f6f6f6}
button{margin:.2em .2em .2em 0}
.bar{height:12px;border:1px solid #444;background:linear-gradient(to right,%s)}
.ticks{display:flex;justify-content:space-between;font-size:12px}
table{border-collapse:collapse;font-size:12px}td{border:1px solid #bbb;padding:2px 4px;vertical-align:top}
"""

_SCRIPT = """
(function(){
const svg=document.getElementById('map');const home=svg.getAttribute('viewBox').split(' ').map(Number);
let vb=home.slice();const info=document.getElementById('info');
function apply(){svg.setAttribute('viewBox',vb.join(' '));const k=vb[2]/home[2];
 svg.querySelectorAll('[data-x]').forEach(function(e){
  e.setAttribute('transform','translate('+e.dataset.x+' '+e.dataset.y+') scale('+(e.dataset.s*k)+')');});}
function zoom(f,cx,cy){const w=vb[2]*f,h=vb[3]*f;vb=[cx-(cx-vb[0])*f,cy-(cy-vb[1])*f,w,h];apply();}
function toMap(ev){const r=svg.getBoundingClientRect();
 return [vb[0]+(ev.clientX-r.left)/r.width*vb[2],vb[1]+(ev.clientY-r.top)/r.height*vb[3]];}
svg.addEventListener('wheel',function(ev){ev.preventDefault();const p=toMap(ev);
 zoom(ev.deltaY>0?1.25:0.8,p[0],p[1]);},{passive:false});
let drag=null;
svg.addEventListener('pointerdown',function(ev){drag=[ev.clientX,ev.clientY];svg.setPointerCapture(ev.pointerId);});
svg.addEventListener('pointermove',function(ev){if(!drag)return;const r=svg.getBoundingClientRect();
 vb[0]-=(ev.clientX-drag[0])/r.width*vb[2];vb[1]-=(ev.clientY-drag[1])/r.height*vb[3];
 drag=[ev.clientX,ev.clientY];apply();});
svg.addEventListener('pointerup',function(){drag=null;});
document.getElementById('zin').onclick=function(){zoom(0.67,vb[0]+vb[2]/2,vb[1]+vb[3]/2);};
document.getElementById('zout').onclick=function(){zoom(1.5,vb[0]+vb[2]/2,vb[1]+vb[3]/2);};
document.getElementById('zhome').onclick=function(){vb=home.slice();apply();};
svg.querySelectorAll('.fix').forEach(function(e){e.addEventListener('mouseenter',function(){
 info.textContent=e.querySelector('title').textContent;});});
apply();})();
"""


def _num(value: float) -> str:
    return f"{value:.2f}"


def _placed(x: float, y: float, scale: float, inner: str, cls: str = "") -> str:
    """A group drawn at map point (x, y) in a size that the script keeps constant on screen while zooming."""
    attrs = f' class="{cls}"' if cls else ""
    return (f'<g{attrs} data-x="{_num(x)}" data-y="{_num(y)}" data-s="{_num(scale)}" '
            f'transform="translate({_num(x)} {_num(y)}) scale({_num(scale)})">{inner}</g>')


def render_map_html(data: PackData, options: EvidenceOptions) -> str:
    """The interactive map of one hit as a complete HTML document."""
    hit, crime, fixes = data.hit, data.crime, data.fixes
    xmin, xmax, ymin, ymax = focus_extent(data)  # the first view, as map.png; everything else is a zoom away
    span = xmax - xmin

    def sx(x) -> np.ndarray:
        return np.asarray(x, float) - xmin

    def sy(y) -> np.ndarray:
        return ymax - np.asarray(y, float)

    size = span / 110  # marker size in metres at the initial zoom (rescaled by the script)
    parts = [f'<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(span)} {_num(ymax - ymin)}" '
             f'role="img" aria-label="Map of the trail around the crime location">',
             "<defs>" + "".join(f'<g id="m-{name}">{shape}</g>' for name, shape in _SHAPES.items())
             + f'<g id="m-other">{_OTHER_SHAPE}</g>'
             + f'<marker id="arrow" viewBox="0 0 10 10" refX="5" refY="5" markerUnits="userSpaceOnUse" '
               f'markerWidth="{_num(size * 2.2)}" markerHeight="{_num(size * 2.2)}" orient="auto">'
               f'<path d="M0,0L10,5L0,10Z" fill="#333"/></marker></defs>']
    wide = map_extent(data)
    parts += _grid((min(xmin, wide[0]), max(xmax, wide[1]), min(ymin, wide[2]), max(ymax, wide[3])),
                   (xmin, xmax, ymin, ymax), sx, sy)
    cx, cy, r = float(crime["x"]), float(crime["y"]), float(hit["radius_m"])
    parts.append(f'<circle cx="{_num(sx(cx))}" cy="{_num(sy(cy))}" r="{_num(r)}" fill="rgba(0,0,0,0.06)" '
                 f'stroke="#000" stroke-width="2" vector-effect="non-scaling-stroke"/>')
    window = fixes[fixes["in_window"]]
    for row in window.itertuples(index=False):
        if np.isfinite(row.accuracy_m) and row.accuracy_m > 0:
            parts.append(f'<circle cx="{_num(sx(row.x))}" cy="{_num(sy(row.y))}" r="{_num(row.accuracy_m)}" '
                         f'fill="none" stroke="#555" stroke-width="0.8" stroke-dasharray="2 3" '
                         f'vector-effect="non-scaling-stroke"/>')
    x, y = sx(fixes["x"]), sy(fixes["y"])
    gap = fixes["gap_after"].to_numpy()[:-1]
    for i in range(len(gap)):
        mid = f"{_num((x[i] + x[i + 1]) / 2)},{_num((y[i] + y[i + 1]) / 2)}"
        style = ('stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"' if gap[i] else
                 'stroke="#444" stroke-width="1.2" marker-mid="url(#arrow)"')
        parts.append(f'<polyline points="{_num(x[i])},{_num(y[i])} {mid} {_num(x[i + 1])},{_num(y[i + 1])}" '
                     f'fill="none" {style} vector-effect="non-scaling-stroke"/>')
    start, end = fixes["timestamp"].iloc[0], fixes["timestamp"].iloc[-1]
    total = max((end - start).total_seconds(), 1.0)
    near = set(data.vicinity["seq"])
    for row in fixes.itertuples(index=False):
        source = str(row.source).upper()
        shape = f"m-{source}" if source in _SHAPES else "m-other"
        fill = time_colour((row.timestamp - start).total_seconds() / total) if row.in_window else "none"
        stroke = "#000" if row.in_window else "#888"
        scale = size if row.in_window else size * 0.6
        tip = (f"#{row.seq} {fmt_time(row.timestamp)} | {source} | accuracy {fmt_m(row.accuracy_m)} | speed "
               f"{fmt_kmh(row.speed_mps)} | {fmt_m(row.distance_m)} from the crime location"
               + ("" if row.in_window else " | outside the window"))
        px, py = x[row.seq - 1], y[row.seq - 1]
        parts.append(_placed(px, py, scale, f'<use href="#{shape}" fill="{fill}" stroke="{stroke}" '
                                            f'stroke-width="0.2"/><title>{esc(tip)}</title>', "fix"))
        if row.seq in near:
            parts.append(_placed(px, py, size, f'<text x="1.3" y="-1.3" font-size="2.6" paint-order="stroke" '
                                               f'stroke="#fff" stroke-width="0.6">{row.seq}</text>'))
    qx, qy = sx(hit["closest_x"]), sy(hit["closest_y"])
    parts.append(f'<line x1="{_num(sx(cx))}" y1="{_num(sy(cy))}" x2="{_num(qx)}" y2="{_num(qy)}" stroke="#000" '
                 f'stroke-dasharray="1 3" vector-effect="non-scaling-stroke"/>')
    star = ('<path d="M0,-1L0.29,-0.4L0.95,-0.31L0.48,0.15L0.59,0.81L0,0.5L-0.59,0.81L-0.48,0.15L-0.95,-0.31'
            'L-0.29,-0.4Z" fill="#000" stroke="#fff" stroke-width="0.08"/>')
    parts.append(_placed(sx(cx), sy(cy), size * 2.2,
                         f'{star}<title>{esc("Crime location: " + str(hit["crime_ref"]))}</title>', "fix"))
    cross = ('<path d="M-1,-0.6L-0.6,-1L0,-0.4L0.6,-1L1,-0.6L0.4,0L1,0.6L0.6,1L0,0.4L-0.6,1L-1,0.6L-0.4,0Z" '
             'fill="#fff" stroke="#000" stroke-width="0.15"/>')
    closest = f"Closest approach {fmt_m(hit['min_distance_m'])} at {fmt_time(hit['closest_time'])}"
    parts.append(_placed(qx, qy, size * 1.4, f"{cross}<title>{esc(closest)}</title>", "fix"))
    length = nice_length(span)
    bx, by = span * 0.04, (ymax - ymin) * 0.95
    parts.append(f'<rect x="{_num(bx)}" y="{_num(by - span / 200)}" width="{_num(length)}" height="{_num(span / 200)}"'
                 f' fill="#000"/>' + _placed(bx, by - span / 100, size, f'<text font-size="3">{length:,.0f} m</text>'))
    parts.append("</svg>")

    stops = ",".join(time_colour(f) for f in np.linspace(0, 1, 9))
    ticks = "".join(f"<span>{esc(fmt_time(t))}</span>" for t in (start, start + (end - start) / 2, end))
    key = "".join(f"<tr><td>{esc(k.symbol)}</td><td>{esc(k.meaning)}</td></tr>" for k in map_key(options.crs))
    gaps = "; ".join(f"{fmt_time(g.start)} to {fmt_time(g.end)} ({fmt_duration(g.duration_s)})"
                     for g in data.gaps[data.gaps["in_window"]].itertuples()) or "none"
    title = f"{hit['crime_ref']} · {offence_name(hit['offence'])}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_STYLE % stops}</style></head><body>"
            f"<h1>{esc(title)}</h1>"
            f"<p>Window (with padding): {esc(fmt_time(hit['window_start']))} to {esc(fmt_time(hit['window_end']))}"
            f"</p><p>Subject {esc(hit['subject_id'])} · {esc(hit['presence'])} · closest approach "
            f"{esc(fmt_m(hit['min_distance_m']))} at {esc(fmt_time(hit['closest_time']))} · gaps during the "
            f"window: {esc(gaps)}</p>"
            f'<div id="wrap">{"".join(parts)}<div id="north">▲<br>N<br><small>grid north</small></div>'
            f'<div id="side"><div><button id="zin">Zoom in</button><button id="zout">Zoom out</button>'
            f'<button id="zhome">Reset</button></div><div id="info">Hover a point for its time, accuracy and '
            f'speed. Wheel to zoom, drag to pan.</div>'
            f"<p>Time of fix, UK local time ({esc(zone_names(fixes['timestamp']))}):</p>"
            f'<div class="bar"></div><div class="ticks">{ticks}</div>'
            f"<p>Grid: {esc(options.crs)} metres.</p><table>{key}</table></div></div>"
            f"<script>{_SCRIPT}</script></body></html>\n")


def _grid(extent: tuple[float, float, float, float], view: tuple[float, float, float, float], sx,
          sy) -> list[str]:
    """Grid lines over ``extent`` every round number of metres, labelled along the left and bottom edges of the
    first ``view``."""
    xmin, xmax, ymin, ymax = extent
    view_span = view[1] - view[0]
    step = nice_length(view_span)
    size = view_span / 110
    out = ['<g stroke="#ddd" stroke-width="0.7" vector-effect="non-scaling-stroke">']
    labels = []
    for e in np.arange(np.ceil(xmin / step) * step, xmax, step):
        out.append(f'<line x1="{_num(sx(e))}" y1="{_num(sy(ymax))}" x2="{_num(sx(e))}" y2="{_num(sy(ymin))}" '
                   f'vector-effect="non-scaling-stroke"/>')
        labels.append((sx(e), sy(view[2]), f"E {e:,.0f}"))
    for n in np.arange(np.ceil(ymin / step) * step, ymax, step):
        out.append(f'<line x1="{_num(sx(xmin))}" y1="{_num(sy(n))}" x2="{_num(sx(xmax))}" y2="{_num(sy(n))}" '
                   f'vector-effect="non-scaling-stroke"/>')
        labels.append((sx(view[0]), sy(n), f"N {n:,.0f}"))
    out.append("</g>")
    out += [_placed(lx, ly, size, f'<text x="0.5" y="-0.5" font-size="2.2" fill="#777">{text}</text>')
            for lx, ly, text in labels]
    return out


def write_map_html(data: PackData, path: Path, options: EvidenceOptions) -> Path:
    """Write ``map.html`` for one hit."""
    path.write_text(render_map_html(data, options), encoding="utf-8")
    return path
