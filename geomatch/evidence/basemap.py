"""Basemaps from local files, under both maps of a pack: roads (named), buildings and water from vector files,
and offline rasters (MBTiles, PMTiles, GeoTIFF), reprojected to the hit's metric CRS and cut to the view.

Nothing is fetched: forces hold Ordnance Survey data (OS Open Zoomstack, OpenMap Local, MasterMap) and
OpenStreetMap extracts locally. Vector files are anything GDAL reads (GeoPackage with several layers,
Shapefile, GeoJSON, FlatGeobuf, ...); only the features in the view are read (a bounding-box filter, which a
GeoPackage or FlatGeobuf answers from its spatial index). A layer is taken as roads, buildings or water from its
name (``roads``, ``Building``, ``water_area`` ...), else from OpenStreetMap columns (``highway``, ``building``,
``waterway``/``natural``), else from its geometry (lines as roads, polygons as buildings). Road names come from
the first of :data:`NAME_COLUMNS` the layer has. Drawn in a sober print style: grey buildings, white roads with
grey casing, pale water, small grey street names along the road.

Raster basemaps (MBTiles and PMTiles tile archives, GeoTIFF images) are resampled onto the metric grid by
:mod:`geomatch.evidence.rasters`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from geomatch.core.errors import InputError
from geomatch.evidence.rasters import RASTER_SUFFIXES, Raster, check_raster, read_raster

Extent = tuple[float, float, float, float]  # xmin, xmax, ymin, ymax (metres of the hit's CRS)
VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite")
NAME_COLUMNS = ("name", "road_name", "roadname", "street", "street_name", "distinctive_name", "distname",
                "name1", "roadname1")
KINDS = ("water", "buildings", "roads")  # drawn bottom to top
_KIND_WORDS = {"water": ("water", "river", "lake", "sea", "tidal", "foreshore", "canal", "reservoir"),
               "buildings": ("building", "bldg", "house", "structure"),
               "roads": ("road", "street", "highway", "transport", "path", "way", "carriageway", "rail")}
STYLE = {
    "water": {"face": "#cfdfee", "edge": "#a9c3db", "line": "#9dbbd8"},
    "buildings": {"face": "#dcdcdc", "edge": "#b4b4b4"},
    "roads": {"casing": "#a6a6a6", "fill": "#ffffff", "label": "#4d4d4d"},
}


@dataclass(frozen=True)
class Basemap:
    """The basemap features in a view, in the hit's CRS: ``roads`` (a GeoDataFrame with ``name``, may be
    empty), ``buildings`` and ``water`` (GeoSeries) and ``rasters``."""

    roads: Any
    buildings: Any
    water: Any
    rasters: tuple[Raster, ...]

    @property
    def empty(self) -> bool:
        return self.roads.empty and self.buildings.empty and self.water.empty and not self.rasters


def basemap_paths(basemap: Path | str | Iterable[Path | str] | None) -> tuple[Path, ...]:
    """The basemap files of ``EvidenceOptions.basemap`` (one path, several, or none)."""
    if basemap is None:
        return ()
    if isinstance(basemap, (str, Path)):
        return (Path(basemap),)
    return tuple(Path(p) for p in basemap)


def check_basemap(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Refuse basemap files that are missing or of a kind this module does not read, naming the file."""
    paths = tuple(Path(p) for p in paths)
    for path in paths:
        if not path.is_file():
            raise InputError("the basemap file does not exist", file=str(path))
        if path.suffix.lower() not in VECTOR_SUFFIXES + RASTER_SUFFIXES:
            raise InputError(f"a basemap must be a vector file ({', '.join(VECTOR_SUFFIXES)}) or a raster "
                             f"({', '.join(RASTER_SUFFIXES)}), not {path.suffix or 'a file without a suffix'}",
                             file=str(path))
        if path.suffix.lower() in RASTER_SUFFIXES:
            check_raster(path)
        else:
            _vector_layers(str(path))
    return paths


def read_basemap(paths: Iterable[Path], crs: str, extent: Extent, *, raster_px: int = 1000) -> Basemap:
    """The features of every basemap file inside ``extent`` (reprojected to ``crs`` and cut to it; the frames
    carry no CRS object, their coordinates are in ``crs``); rasters resampled ``raster_px`` pixels across."""
    import geopandas as gpd

    names: dict[str, list] = {kind: [] for kind in KINDS}
    shapes: dict[str, list] = {kind: [] for kind in KINDS}
    rasters = []
    for path in paths:
        if Path(path).suffix.lower() in RASTER_SUFFIXES:
            raster = read_raster(Path(path), crs, extent, raster_px)
            if raster is not None:
                rasters.append(raster)
            continue
        for layer, kind, name_column in _vector_layers(str(path)):
            layer_names, layer_shapes = _read_layer(str(path), layer, name_column, crs, extent)
            names[kind].append(layer_names)
            shapes[kind].append(layer_shapes)

    def joined(parts: list) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype=object)

    roads = gpd.GeoDataFrame({"name": joined(names["roads"])}, geometry=joined(shapes["roads"]))
    return Basemap(roads, gpd.GeoSeries(joined(shapes["buildings"])), gpd.GeoSeries(joined(shapes["water"])),
                   tuple(rasters))


def draw_basemap(ax, options, extent: Extent) -> None:
    """Draw the basemap of ``options.basemap`` under a static map (``ax`` in metres of ``options.crs``)."""
    paths = basemap_paths(options.basemap)
    if not paths:
        return
    basemap = read_basemap(paths, options.crs, extent)
    for raster in basemap.rasters:
        ax.imshow(np.dstack([raster.rgb, raster.alpha]), extent=(raster.extent[0], raster.extent[1],
                  raster.extent[2], raster.extent[3]), origin="upper", interpolation="nearest", zorder=0.1)
    style = STYLE
    water = basemap.water
    if not water.empty:
        areas = water[water.geom_type.isin(["Polygon", "MultiPolygon"])]
        lines = water[~water.index.isin(areas.index)]
        if not areas.empty:
            areas.plot(ax=ax, facecolor=style["water"]["face"], edgecolor=style["water"]["edge"], lw=0.4,
                       zorder=0.3)
        if not lines.empty:
            lines.plot(ax=ax, color=style["water"]["line"], lw=1.2, zorder=0.3)
    if not basemap.buildings.empty:
        basemap.buildings.plot(ax=ax, facecolor=style["buildings"]["face"], edgecolor=style["buildings"]["edge"],
                               lw=0.35, zorder=0.5)
    roads = basemap.roads
    if not roads.empty:
        width = _road_width_pt(ax, extent)
        roads.plot(ax=ax, color=style["roads"]["casing"], lw=width + 1.0, zorder=0.6,
                   path_effects=None, capstyle="round")
        roads.plot(ax=ax, color=style["roads"]["fill"], lw=width, zorder=0.7, capstyle="round")
        _label_roads(ax, roads, extent)


def _road_width_pt(ax, extent: Extent) -> float:
    """Road width in points: about 7 m on the ground, between 1.5 and 5 points."""
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    points_per_m = width_in * 72 / (extent[1] - extent[0])
    return float(np.clip(7.0 * points_per_m, 1.5, 5.0))


def road_labels(roads, extent: Extent, *, min_share: float = 0.12,
                spacing_share: float = 0.18) -> list[tuple[float, float, float, str]]:
    """Street-name labels ``(x, y, angle_deg, name)``: one per name, on its longest piece in the view (pieces
    shorter than ``min_share`` of the view's width get none), at the middle or, when that is within
    ``spacing_share`` of the view's width of a label already placed (longest roads first), 30 %, 70 %, 20 % or
    80 % along it (else none); the angle keeps the text upright."""
    import shapely

    span = extent[1] - extent[0]
    view = shapely.box(extent[0], extent[2], extent[1], extent[3])
    best: dict[str, tuple[float, Any]] = {}
    for name, geometry in zip(roads["name"], roads.geometry):
        if not isinstance(name, str) or not name.strip() or geometry is None:
            continue
        for piece in shapely.get_parts(shapely.intersection(geometry, view)):
            if piece.geom_type != "LineString" or piece.length < min_share * span:
                continue
            if name not in best or piece.length > best[name][0]:
                best[name] = (piece.length, piece)
    labels: list[tuple[float, float, float, str]] = []
    for name in sorted(best, key=lambda n: (-best[n][0], n)):
        piece = best[name][1]
        for at in (0.5, 0.3, 0.7, 0.2, 0.8):  # the middle, else further along, clear of the labels placed
            point = piece.interpolate(at, normalized=True)
            if all(math.hypot(point.x - x, point.y - y) >= spacing_share * span for x, y, _, _ in labels):
                ahead = piece.interpolate(at + 0.01, normalized=True)
                behind = piece.interpolate(at - 0.01, normalized=True)
                angle = math.degrees(math.atan2(ahead.y - behind.y, ahead.x - behind.x))
                angle = angle - 180 if angle > 90 else angle + 180 if angle <= -90 else angle
                labels.append((point.x, point.y, angle, name))
                break
    return labels


def _label_roads(ax, roads, extent: Extent) -> None:
    from matplotlib import patheffects

    from geomatch.evidence.text import mpl_text

    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    for x, y, angle, name in road_labels(roads, extent):
        ax.text(x, y, mpl_text(name), rotation=angle, rotation_mode="anchor", ha="center", va="center",
                fontsize=6, color=STYLE["roads"]["label"], style="italic", path_effects=halo, zorder=0.8,
                clip_on=True)


# ---- vector files -------------------------------------------------------------------------------------------

@lru_cache(maxsize=32)
def _vector_layers(path: str) -> tuple[tuple[str, str, str | None], ...]:
    """``(layer, kind, name column)`` of each drawable layer of a vector file (cached per process)."""
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception as error:  # noqa: BLE001 - any reader failure is bad input
        raise InputError(f"the basemap could not be read ({error})", file=path) from error
    found = []
    for layer, geometry_type in layers:
        info = pyogrio.read_info(path, layer=layer)
        if info.get("crs") is None:
            raise InputError(f"the basemap layer '{layer}' does not say its CRS", file=path)
        columns = [str(c) for c in info["fields"]]
        kind = _layer_kind(str(layer), str(geometry_type or info.get("geometry_type") or ""), columns)
        if kind is not None:
            lower = {c.lower(): c for c in columns}
            name_column = next((lower[c] for c in NAME_COLUMNS if c in lower), None) if kind == "roads" else None
            found.append((str(layer), kind, name_column))
    if not found:
        raise InputError("the basemap has no road, building or water layer (lines or polygons)", file=path)
    return tuple(found)


def _layer_kind(layer: str, geometry_type: str, columns: list[str]) -> str | None:
    """roads, buildings, water, or None (points and tables are not drawn)."""
    name = layer.lower()
    if "point" in geometry_type.lower() or not geometry_type or geometry_type.lower() == "none":
        return None
    for kind in ("water", "buildings", "roads"):
        if any(word in name for word in _KIND_WORDS[kind]):
            return kind
    lower = {c.lower() for c in columns}
    if "highway" in lower:
        return "roads"
    if "building" in lower:
        return "buildings"
    if lower & {"waterway", "natural", "water"}:
        return "water"
    return "roads" if "line" in geometry_type.lower() else "buildings"


@lru_cache(maxsize=64)
def _to_layer(path: str, layer: str, crs: str):
    """The transformer from ``crs`` to the layer's CRS, and back (``None`` both ways when they are the same)."""
    import pyogrio
    from pyproj import CRS, Transformer

    source, target = CRS.from_user_input(crs), CRS.from_user_input(pyogrio.read_info(path, layer=layer)["crs"])
    if source == target:
        return None, None
    return (Transformer.from_crs(source, target, always_xy=True),
            Transformer.from_crs(target, source, always_xy=True))


def _read_layer(path: str, layer: str, name_column: str | None, crs: str, extent: Extent):
    """One layer's features inside ``extent``, in ``crs``, cut to it: ``(names, geometries)`` (object arrays)."""
    import pyogrio
    import shapely

    to_layer, from_layer = _to_layer(path, layer, crs)
    bbox = (extent[0], extent[2], extent[1], extent[3])
    if to_layer is not None:
        bbox = to_layer.transform_bounds(*bbox, densify_pts=8)
    _, _, wkb, fields = pyogrio.raw.read(path, layer=layer, bbox=tuple(bbox),
                                         columns=[name_column] if name_column else [])
    geometry = shapely.from_wkb(wkb)
    if from_layer is not None and len(geometry):
        geometry = shapely.transform(geometry, lambda xy: np.column_stack(from_layer.transform(xy[:, 0], xy[:, 1])))
    geometry = shapely.clip_by_rect(geometry, extent[0], extent[2], extent[1], extent[3])
    names = np.asarray(fields[0], dtype=object) if name_column else np.full(len(geometry), None, dtype=object)
    keep = ~shapely.is_empty(geometry) & ~shapely.is_missing(geometry)
    return names[keep], geometry[keep]
