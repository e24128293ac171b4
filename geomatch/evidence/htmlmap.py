"""Exhibit: ``map.html``, the map as one self-contained page on Leaflet (vendored in ``vendor/leaflet``, inlined).

Layers that can be switched: the basemap (from the local files of ``EvidenceOptions.basemap``), the trail
(straight lines between fixes, gaps dashed), the fixes (shape by source, shade by time in the window, hollow
grey outside it), their confidence circles, the match zone with the crime location and the closest approach,
and the reachable area of a ``possible`` hit when the pack has one. A scale bar, grid north, the grid
coordinates under the pointer, and hover on a fix for its time (UK local time with the offset), source,
accuracy, speed, direction, quality flag and distance from the crime location.

The page draws in the hit's metric CRS: Leaflet's ``CRS.Simple`` over metres east and north of the crime
location, so distances and the scale bar are grid metres. It fetches nothing: Leaflet's script, stylesheet and
images are inline, the data is inline JSON, and a Content-Security-Policy forbids any request. Text from the
inputs is HTML-escaped (in Python for the page, in the script for tooltips). Dense trails are thinned for drawing
outside the zone (:func:`thin_fixes`); ``points.csv`` keeps every point in the vicinity.
"""
from __future__ import annotations

import base64
import io
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomatch.core.safe import escape_html as esc
from geomatch.core.times import UK_TZ, utc_ns
from geomatch.evidence.basemap import STYLE as BASEMAP_STYLE
from geomatch.evidence.basemap import basemap_paths, read_basemap, road_labels
from geomatch.evidence.context import EvidenceOptions, PackData, path_steps
from geomatch.evidence.staticmap import focus_extent, map_extent
from geomatch.evidence.style import map_key, time_colour
from geomatch.evidence.text import fmt_duration, fmt_m, fmt_time, offence_name, uk_offsets_s

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
VENDOR = Path(__file__).with_name("vendor") / "leaflet"
THIN_STEP_S = 10.0
"""Outside the zone a fix is drawn only when it was recorded at least this many seconds after the last fix drawn
(fixes that matter are always drawn): a 1 s trail is drawn at 10 s, finer than most tags record."""
MAX_SHOWN = 15_000
"""At most this many fixes are drawn; beyond it, fixes in the zone are thinned too (every k-th kept)."""
BASEMAP_MAX_M = 3000.0
"""The basemap embedded in the page covers the overview, at most this many metres across."""
SOURCES_SHAPES = {"GPS": "circle", "LBS": "triangle", "WIFI": "square"}
_NOT_ON_THE_PAGE = ("Number beside",)  # key entries of map.png only: the page gives each fix's number on hover

_STYLE = """
body{font:14px/1.4 system-ui,Arial,sans-serif;margin:1em;color:#111}
h1{font-size:1.2em;margin:0 0 .2em}p{margin:.2em 0}
#wrap{display:flex;gap:1em;flex-wrap:wrap;align-items:flex-start}
#map{width:min(94vw,760px);height:min(94vw,760px);border:1px solid #444;background:#fff}
#side{max-width:26em}#info{border:1px solid #999;padding:.5em;min-height:5em;background:#f6f6f6}
.bar{height:12px;border:1px solid #444;background:linear-gradient(to right,%s)}
.ticks{display:flex;justify-content:space-between;font-size:12px}
table{border-collapse:collapse;font-size:12px}td{border:1px solid #bbb;padding:2px 4px;vertical-align:top}
.north{background:rgba(255,255,255,.85);padding:2px 6px;text-align:center;font-weight:bold;line-height:1.1}
.north small{font-weight:normal;font-size:10px}
.coords{background:rgba(255,255,255,.85);padding:1px 5px;font-size:11px}
.road{white-space:nowrap;font-size:10px;font-style:italic;color:%s;text-shadow:0 0 2px #fff,0 0 2px #fff}
.road span{display:inline-block;transform-origin:center}
.leaflet-container{background:#fff}
"""

_SCRIPT = r"""
(function(){
const D=JSON.parse(document.getElementById('data').textContent);
const ENTITIES={'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'};
function esc(s){return String(s).replace(/[&<>"']/g,c=>ENTITIES[c]);}
function undelta(a){let s=0;return a.map(v=>s+=v);}
const F=D.fixes,X=undelta(F.x).map(v=>v/10),Y=undelta(F.y).map(v=>v/10),T=undelta(F.t),SEQ=undelta(F.seq);
function col(v){return Array.isArray(v)?v:new Array(X.length).fill(v);}
const SRC=col(F.src),Q=col(F.q),QR=col(F.qr);
const crs=L.extend({},L.CRS.Simple);
const map=L.map('map',{crs:crs,preferCanvas:true,zoomSnap:0.25,zoomDelta:0.5,minZoom:-8,maxZoom:7,
 attributionControl:false});
function ll(x,y){return L.latLng(y,x);}
map.createPane('basemap').style.zIndex=250;map.createPane('top').style.zIndex=640;
const topRenderer=L.canvas({pane:'top'});
const star=[],w=0.38;for(let i=0;i<10;i++){const a=-Math.PI/2+i*Math.PI/5,q=i%2?0.45:1;
 star.push([q*Math.cos(a),q*Math.sin(a)]);}
const SHAPES={triangle:[[0,-1.3],[1.15,0.75],[-1.15,0.75]],square:[[-0.9,-0.9],[0.9,-0.9],[0.9,0.9],[-0.9,0.9]],
 diamond:[[0,-1.25],[1.25,0],[0,1.25],[-1.25,0]],star:star,
 cross:[[-1,-1+w],[-1+w,-1],[0,-w],[1-w,-1],[1,-1+w],[w,0],[1,1-w],[1-w,1],[0,w],[-1+w,1],[-1,1-w],[-w,0]]};
const Shape=L.CircleMarker.extend({_updatePath:function(){const r=this._renderer;
 if(!r._drawing||this._empty())return;const p=this._point,c=r._ctx,s=this._radius,v=SHAPES[this.options.shape];
 c.beginPath();
 if(v){v.forEach((q,i)=>c[i?'lineTo':'moveTo'](p.x+q[0]*s,p.y+q[1]*s));c.closePath();}
 else{c.arc(p.x,p.y,s,0,Math.PI*2);}
 r._fillStroke(c,this);}});
const ramp=D.ramp;
function colour(f){f=Math.min(Math.max(f,0),1)*(ramp.length-1);const i=Math.min(Math.floor(f),ramp.length-2),
 u=f-i,a=ramp[i],b=ramp[i+1];return 'rgb('+[0,1,2].map(j=>Math.round(a[j]+(b[j]-a[j])*u)).join(',')+')';}
function pad(n){return String(n).padStart(2,'0');}
function ukTime(ms){let o=D.offsets[0];for(const c of D.offsets){if(ms>=c[0])o=c;}
 const d=new Date(D.t0+ms+o[1]*1000),h=Math.floor(Math.abs(o[1])/3600),m=Math.floor(Math.abs(o[1])%3600/60);
 return d.getUTCFullYear()+'-'+pad(d.getUTCMonth()+1)+'-'+pad(d.getUTCDate())+' '+pad(d.getUTCHours())+':'+
  pad(d.getUTCMinutes())+':'+pad(d.getUTCSeconds())+' '+(o[1]<0?'-':'+')+pad(h)+':'+pad(m)+' ('+o[2]+')';}
function num(v,d){
 return v===null?'unknown':v.toLocaleString('en-GB',{minimumFractionDigits:d,maximumFractionDigits:d});}
function tip(i){const f=F.flag[i],q=D.qualities[Q[i]],r=D.reasons[QR[i]];
 return '<b>#'+SEQ[i]+'</b> '+esc(ukTime(T[i]))+'<br>'+esc(D.sources[SRC[i]])+' fix, accuracy '+
  num(F.acc[i]===null?null:F.acc[i]/10,1)+' m<br>speed '+num(F.spd[i]===null?null:F.spd[i]/10,1)+' km/h'+
  (F.dir[i]===null?'':', heading '+F.dir[i]+'\u00b0')+'<br>quality: '+esc(q)+(r?' ('+esc(r)+')':'')+'<br>'+
  num(Math.hypot(X[i],Y[i]),1)+' m from the crime location'+(f&2?', in the zone':'')+
  (f&1?'':'<br>outside the window (context)');}
const layers={};
if(D.basemap){const B=D.basemap,g=L.layerGroup(),o={pane:'basemap',interactive:false};
 for(const r of B.rasters){const e=r.extent;g.addLayer(L.imageOverlay(r.src,[ll(e[0],e[2]),ll(e[1],e[3])],o));}
 const geo=(geom,style)=>L.geoJSON(geom,L.extend({coordsToLatLng:c=>ll(c[0],c[1]),style:()=>style},o));
 if(B.water)g.addLayer(geo(B.water,{color:D.bs.water.edge,weight:0.6,fillColor:D.bs.water.face,fillOpacity:1}));
 if(B.buildings)g.addLayer(geo(B.buildings,{color:D.bs.buildings.edge,weight:0.5,fillColor:D.bs.buildings.face,
  fillOpacity:1}));
 if(B.roads){g.addLayer(geo(B.roads,{color:D.bs.roads.casing,weight:6,lineCap:'round'}));
  g.addLayer(geo(B.roads,{color:D.bs.roads.fill,weight:4.4,lineCap:'round'}));}
 for(const l of B.labels){g.addLayer(L.marker(ll(l[0],l[1]),{interactive:false,pane:'basemap',
  icon:L.divIcon({className:'road',
  iconSize:null,html:'<span style="transform:translate(-50%,-50%) rotate('+(-l[2])+'deg)">'+esc(l[3])+'</span>'})}));}
 layers['Basemap']=g;}
const trail=L.layerGroup(),solid=[],dashed=[];let run=[],prev=-1;
for(let i=0;i<X.length;i++){if(!(F.flag[i]&16))continue;
 if(prev>=0&&F.flag[prev]&8){if(run.length>1)solid.push(run);run=[];dashed.push([ll(X[prev],Y[prev]),ll(X[i],Y[i])]);}
 run.push(ll(X[i],Y[i]));prev=i;}
if(run.length>1)solid.push(run);
trail.addLayer(L.polyline(solid,{color:'#555',weight:1.4,interactive:false}));
trail.addLayer(L.polyline(dashed,{color:'#000',weight:1.8,dashArray:'7 5',interactive:false}));
layers['Trail (straight lines between fixes; gaps dashed)']=trail;
const circles=L.layerGroup();
for(let i=0;i<X.length;i++){if(F.flag[i]&1&&F.acc[i]){circles.addLayer(L.circle(ll(X[i],Y[i]),{radius:F.acc[i]/10,
 color:'#555',weight:0.8,dashArray:'2 3',fill:false,interactive:false}));}}
layers['Confidence circles (fixes in the window)']=circles;
const fixes=L.featureGroup(),span=Math.max(D.window[1]-D.window[0],1);
for(let i=0;i<X.length;i++){const w=F.flag[i]&1;fixes.addLayer(new Shape(ll(X[i],Y[i]),{i:i,
 shape:D.shapes[SRC[i]],radius:w?5:3,weight:w?0.8:0.8,color:w?'#000':'#888',
 fillColor:w?colour((T[i]-D.window[0])/span):'#fff',fillOpacity:1,opacity:1}));}
fixes.bindTooltip(l=>tip(l.options.i),{direction:'top',offset:[0,-6]});
fixes.on('mouseover',e=>{document.getElementById('info').innerHTML=tip(e.layer.options.i);});
layers['Fixes (shade = time in the window)']=fixes;
const zone=L.layerGroup();
zone.addLayer(L.circle(ll(0,0),{radius:D.radius,color:'#000',weight:2,fillColor:'#000',fillOpacity:0.06,
 interactive:false}));
zone.addLayer(L.polyline([ll(0,0),ll(D.closest[0],D.closest[1])],{color:'#000',weight:1,dashArray:'1 4',
 interactive:false}));
layers['Match zone']=zone;
if(D.reachable.length){const g=L.layerGroup();
 for(const ring of D.reachable){g.addLayer(L.polygon(ring.map(c=>ll(c[0],c[1])),
 {color:'#000',weight:1.5,dashArray:'10 4 2 4',fillColor:'#000',fillOpacity:0.04,interactive:false}));}
 layers['Reachable area during the gap']=g;}
const marks=L.featureGroup();
marks.addLayer(new Shape(ll(0,0),{shape:'star',radius:11,color:'#fff',weight:1.2,fillColor:'#000',fillOpacity:1,
 renderer:topRenderer}).bindTooltip(esc(D.crimeText)));
marks.addLayer(new Shape(ll(D.closest[0],D.closest[1]),{shape:'cross',radius:8,color:'#000',weight:1.3,fillColor:'#fff',
 fillOpacity:1,renderer:topRenderer}).bindTooltip(esc(D.closestText)));
layers['Crime location and closest approach']=marks;
for(const name in layers)map.addLayer(layers[name]);
L.control.layers(null,layers,{collapsed:false}).addTo(map);
L.control.scale({imperial:false,maxWidth:160,position:'bottomleft'}).addTo(map);
const North=L.Control.extend({onAdd:function(){const d=L.DomUtil.create('div','north');
 d.innerHTML='\u25b2<br>N<br><small>grid north</small>';return d;}});new North({position:'topleft'}).addTo(map);
const Coords=L.Control.extend({onAdd:function(){const d=L.DomUtil.create('div','coords');this._d=d;return d;}});
const coords=new Coords({position:'bottomright'}).addTo(map);
map.on('mousemove',e=>{coords._d.textContent='E '+num(D.origin[0]+e.latlng.lng,0)+'  N '+
 num(D.origin[1]+e.latlng.lat,0)+' ('+D.crs+')';});
const f=D.focus;map.fitBounds([ll(f[0],f[2]),ll(f[1],f[3])]);
document.getElementById('zhome').addEventListener('click',()=>map.fitBounds([ll(f[0],f[2]),ll(f[1],f[3])]));
const o=D.overview;
document.getElementById('zall').addEventListener('click',()=>map.fitBounds([ll(o[0],o[2]),ll(o[1],o[3])]));
window.geomatchMap=map;
})();
"""


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """Leaflet's script (without its source-map comment) and stylesheet (images as ``data:`` URIs), to inline."""
    script = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    script = "\n".join(line for line in script.splitlines() if not line.startswith("//# sourceMappingURL"))
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    for name in ("layers.png", "layers-2x.png"):
        uri = "data:image/png;base64," + base64.b64encode((VENDOR / name).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{name})", f"url({uri})")
    css = css.replace("url(images/marker-icon.png)", "none")  # default markers are never used
    return script, css


def thin_fixes(data: PackData, *, step_s: float = THIN_STEP_S, max_shown: int = MAX_SHOWN) -> np.ndarray:
    """Which fixes to draw: every fix in the zone, both ends of every gap, the fixes either side of the closest
    approach, the first and the last; of the others, a fix only when it was recorded ``step_s`` seconds or more
    after the last fix drawn. When more than ``max_shown`` remain, fixes in the zone are thinned to every k-th
    too. Returns a boolean mask over ``data.fixes``."""
    fixes = data.fixes
    n = len(fixes)
    gap = fixes["gap_after"].to_numpy(bool)
    must = gap | np.concatenate([[False], gap[:-1]])
    on_path, path_gap = path_steps(data)  # and the ends of the path's gaps (bridged by fallback fixes alone)
    rows = np.flatnonzero(on_path)
    must[rows[:-1][path_gap[rows[:-1]]]] = True
    must[rows[1:][path_gap[rows[:-1]]]] = True
    t = utc_ns(fixes["timestamp"])
    closest = pd.Timestamp(data.hit["closest_time"]).value
    must[np.flatnonzero(t <= closest)[-1:]] = True  # the fixes either side of the closest approach
    must[np.flatnonzero(t >= closest)[:1]] = True
    must[[0, n - 1]] = True
    in_zone = fixes["in_zone"].to_numpy(bool)
    if (must | in_zone).sum() > max_shown:
        every = int(math.ceil(in_zone.sum() / max(max_shown - must.sum(), 1)))
        zone_rows = np.flatnonzero(in_zone & ~must)
        in_zone = np.zeros(n, dtype=bool)
        in_zone[zone_rows[::max(every, 1)]] = True
    keep = must | in_zone
    step = round(step_s * 1e9)
    last = t[0]
    for i in range(n):  # sequential by nature (time since the last fix drawn); ~20 ms per 50,000 fixes
        if keep[i] or t[i] - last >= step:
            keep[i] = True
            last = t[i]
    return keep


def _deltas(values: np.ndarray) -> list[int]:
    ints = np.asarray(values, dtype=np.int64)
    return np.diff(ints, prepend=0).tolist()


def _compact(values: list[int]) -> int | list[int]:
    """A column of indices, or its one value when every row has it."""
    return values[0] if values and all(v == values[0] for v in values) else values


def _nullable(values: np.ndarray, scale: float) -> list[Any]:
    """``values`` times ``scale`` rounded to whole numbers (half to even, as ``round``), ``None`` where a value is
    not finite."""
    scaled = np.rint(values * scale).tolist()
    return [int(v) if finite else None for v, finite in zip(scaled, np.isfinite(values).tolist())]


def _indices(values: list[str], names: list[str]) -> int | list[int]:
    """Each value's index in ``names``, :func:`_compact`."""
    where = {name: i for i, name in enumerate(names)}
    return _compact([where[v] for v in values])


def page_data(data: PackData, options: EvidenceOptions) -> dict[str, Any]:
    """Everything the page's script draws, in metres east and north of the crime location (fixes as columns,
    positions and times delta-encoded)."""
    hit, crime, fixes = data.hit, data.crime, data.fixes
    ox, oy = float(crime["x"]), float(crime["y"])
    overview = map_extent(data)
    keep = thin_fixes(data)
    shown = fixes[keep]
    times = shown["timestamp"]
    ms = utc_ns(times) // 1_000_000  # ms since the epoch, UTC
    t0 = int(ms[0])
    t_ms = ms - t0
    source = shown["source"].astype(str).str.upper().tolist()
    sources = sorted(set(source))
    quality = shown["quality"].astype(str).tolist() if "quality" in shown.columns else ["ok"] * len(shown)
    reason = (shown["quality_reason"].fillna("").astype(str).tolist() if "quality_reason" in shown.columns
              else [""] * len(shown))
    qualities, reasons = sorted(set(quality)), sorted(set(reason))
    on_path, gap_after = path_steps(data)  # thinning keeps both ends of every gap: the next drawn path fix ends it
    flag = (shown["in_window"].to_numpy(int) | shown["in_zone"].to_numpy(int) << 1
            | shown["vicinity"].to_numpy(int) << 2 | gap_after[keep].astype(int) << 3 | on_path[keep].astype(int) << 4)
    ws, we = pd.Timestamp(hit["window_start"]), pd.Timestamp(hit["window_end"])
    focus = focus_extent(data)
    return {
        "crs": options.crs, "origin": [ox, oy], "t0": t0, "offsets": _offsets(times, t0),
        "focus": [focus[0] - ox, focus[1] - ox, focus[2] - oy, focus[3] - oy],
        "overview": [overview[0] - ox, overview[1] - ox, overview[2] - oy, overview[3] - oy],
        "window": [ws.value // 1_000_000 - t0, we.value // 1_000_000 - t0],
        "radius": float(hit["radius_m"]),
        "closest": [round(float(hit["closest_x"]) - ox, 2), round(float(hit["closest_y"]) - oy, 2)],
        "crimeText": f"Crime location: {hit['crime_ref']}",
        "closestText": f"Closest approach {fmt_m(hit['min_distance_m'])} at {fmt_time(hit['closest_time'])}",
        "ramp": [[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in (time_colour(f) for f in np.linspace(0, 1, 9))],
        "sources": sources, "shapes": [SOURCES_SHAPES.get(s, "diamond") for s in sources],
        "qualities": qualities, "reasons": reasons,
        "fixes": {
            "x": _deltas(np.round((shown["x"].to_numpy(float) - ox) * 10)),
            "y": _deltas(np.round((shown["y"].to_numpy(float) - oy) * 10)),
            "t": _deltas(t_ms),
            "acc": _nullable(shown["accuracy_m"].to_numpy(float), 10),
            "spd": _nullable(shown["speed_mps"].to_numpy(float), 36),
            "dir": _nullable(shown["direction_deg"].to_numpy(float), 1),
            "src": _indices(source, sources), "q": _indices(quality, qualities), "qr": _indices(reason, reasons),
            "seq": _deltas(shown["seq"].to_numpy()), "flag": flag.tolist(),
        },
        "shown": int(keep.sum()), "total": len(fixes),
        "reachable": _reachable_rings(data, ox, oy),
        "basemap": _basemap(options, overview, ox, oy), "bs": BASEMAP_STYLE,
    }


def _offsets(times: pd.Series, t0: int) -> list[list[Any]]:
    """UK offsets from UTC over the drawn fixes: ``[ms from t0 where it starts, offset s, zone name]``."""
    if times.empty:
        return [[0, 0, "GMT"]]
    offset = uk_offsets_s(times)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(offset) != 0) + 1])
    ms = utc_ns(times) // 1_000_000 - t0
    return [[0 if k == 0 else int(ms[i]), int(offset[i]), times.iloc[i].tz_convert(UK_TZ).tzname()]
            for k, i in enumerate(starts)]


def _reachable_rings(data: PackData, ox: float, oy: float) -> list[list[list[float]]]:
    """The reachable area(s) of the pack, when it has any (``PackData.reachable``: shapely polygons, or
    objects with a ``polygon`` attribute), as rings in page coordinates."""
    found = getattr(data, "reachable", None)
    if found is None:
        return []
    items = found if isinstance(found, (list, tuple)) else [found]
    rings = []
    for item in items:
        polygon = getattr(item, "polygon", item)
        exterior = getattr(polygon, "exterior", None)
        if exterior is None:
            continue
        rings.append([[round(x - ox, 1), round(y - oy, 1)] for x, y in exterior.coords])
    return rings


def _basemap(options: EvidenceOptions, overview: tuple[float, float, float, float], ox: float,
             oy: float) -> dict[str, Any] | None:
    """The basemap over the overview (at most :data:`BASEMAP_MAX_M` across, centred on it) as GeoJSON
    geometries and JPEG images in page coordinates."""
    import shapely

    paths = basemap_paths(options.basemap)
    if not paths:
        return None
    cx, cy = (overview[0] + overview[1]) / 2, (overview[2] + overview[3]) / 2
    half = min((overview[1] - overview[0]) * 0.65, BASEMAP_MAX_M / 2)
    extent = (cx - half, cx + half, cy - half, cy + half)
    basemap = read_basemap(paths, options.crs, extent, raster_px=900)

    def geojson(geometries) -> Any:
        parts = [g for g in shapely.get_parts(np.asarray(geometries)) if not g.is_empty]
        if not parts:
            return None
        shifted = shapely.transform(np.asarray(parts, dtype=object), lambda c: np.round(c - [ox, oy], 1))
        return json.loads(shapely.to_geojson(shapely.geometrycollections(shifted)))

    rasters = []
    for raster in basemap.rasters:
        from PIL import Image

        alpha = raster.alpha[..., None] / 255.0
        rgb = (raster.rgb * alpha + 255 * (1 - alpha)).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="JPEG", quality=80)
        e = raster.extent
        rasters.append({"src": "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
                        "extent": [e[0] - ox, e[1] - ox, e[2] - oy, e[3] - oy]})
    labels = [[round(x - ox, 1), round(y - oy, 1), round(angle, 1), name]
              for x, y, angle, name in road_labels(basemap.roads, extent, min_share=0.06, spacing_share=0.1)]
    return {"water": geojson(basemap.water.values), "buildings": geojson(basemap.buildings.values),
            "roads": geojson(basemap.roads.geometry.values), "labels": labels, "rasters": rasters}


def _json_for_script(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``<``, ``>`` or ``&`` that could end it)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_map_html(data: PackData, options: EvidenceOptions) -> str:
    """The whole ``map.html`` page for one hit."""
    hit, fixes = data.hit, data.fixes
    payload = page_data(data, options)
    script, css = leaflet_assets()
    ws, we = pd.Timestamp(hit["window_start"]), pd.Timestamp(hit["window_end"])
    stops = ",".join(time_colour(f) for f in np.linspace(0, 1, 9))
    ticks = "".join(f"<span>{esc(fmt_time(t))}</span>" for t in (ws, ws + (we - ws) / 2, we))
    key = "".join(f"<tr><td>{esc(k.symbol)}</td><td>{esc(k.meaning)}</td></tr>" for k in map_key(options.crs)
                  if not k.symbol.startswith(_NOT_ON_THE_PAGE))
    gaps = "; ".join(f"{fmt_time(g.start)} to {fmt_time(g.end)} ({fmt_duration(g.duration_s)})"
                     for g in data.gaps[data.gaps["in_window"]].itertuples()) or "none"
    title = f"{hit['crime_ref']} · {offence_name(hit['offence'])}"
    thinned = (f"{payload['shown']:,} of the {payload['total']:,} fixes shown are drawn: every fix in the zone, "
               f"both ends of every gap and the fixes either side of the closest approach; elsewhere a fix recorded "
               f"less than {THIN_STEP_S:g} s after the last one drawn is left out. The table of points "
               f"(points.csv) lists every point in the vicinity." if payload["shown"] < payload["total"]
               else f"All {payload['total']:,} fixes shown are drawn.")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{css}</style>"
            f"<style>{_STYLE % (stops, BASEMAP_STYLE['roads']['label'])}</style></head><body>"
            f"<h1>{esc(title)}</h1>"
            f"<p>Window (with padding): {esc(fmt_time(ws))} to {esc(fmt_time(we))}</p>"
            f"<p>Subject {esc(hit['subject_id'])} · {esc(hit['presence'])} · closest approach "
            f"{esc(fmt_m(hit['min_distance_m']))} at {esc(fmt_time(hit['closest_time']))} · gaps during the "
            f"window: {esc(gaps)}</p>"
            f'<div id="wrap"><div id="map"></div><div id="side">'
            f'<p><button id="zhome">Zone view</button> <button id="zall">Whole vicinity</button></p>'
            f'<div id="info">Hover a fix for its time, source, accuracy, speed and quality. Wheel or +/- to zoom, '
            f"drag to pan; switch layers at the top right.</div>"
            f"<p>Time of fix in the window, UK local time ({esc(data.zones)}); fixes outside "
            f"the window are hollow grey:</p>"
            f'<div class="bar"></div><div class="ticks">{ticks}</div>'
            f"<p>Grid: {esc(options.crs)} metres; the scale bar is in grid metres.</p>"
            f"<p>{esc(thinned)}</p><table>{key}</table></div></div>"
            f'<script type="application/json" id="data">{_json_for_script(payload)}</script>'
            f"<script>{script}</script><script>{_SCRIPT}</script></body></html>\n")


def write_map_html(data: PackData, path: Path, options: EvidenceOptions) -> Path:
    """Write ``map.html`` for one hit."""
    path.write_text(render_map_html(data, options), encoding="utf-8")
    return path
