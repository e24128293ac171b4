"""The town as a basemap: its streets (named) and buildings, written as a GeoPackage in British National Grid.

Everything here is derived from the :class:`~geomatch.simulate.town.Town` without drawing random numbers, so
writing the basemap changes none of the world's other files. Streets are the grid's lines, each with a name
(``Alder Road`` runs north-south, ``Bramford Street`` east-west). Buildings stand behind every door, away from
its street (homes 7 x 9 m, shops 10 x 14 m, workplaces 24 x 30 m); touching homes merge into terraces.
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geomatch.core.crs import BNG
from geomatch.simulate.town import ORIGIN_X_M, ORIGIN_Y_M, SIZE_M, Places, Town

_NAMES = (  # Suffolk place names, for street names
    "Alder", "Bramford", "Bucklesham", "Capel", "Chantry", "Claydon", "Copdock", "Cretingham", "Debenham",
    "Dunwich", "Elmsett", "Eyke", "Felixstowe", "Framlingham", "Freston", "Gipping", "Grundisburgh", "Hadleigh",
    "Halesworth", "Henley", "Hintlesham", "Holbrook", "Kesgrave", "Kirton", "Lavenham", "Levington", "Martlesham",
    "Melton", "Nacton", "Needham", "Orford", "Otley", "Playford", "Purdis", "Rendlesham", "Rushmere", "Shotley",
    "Sproughton", "Stowmarket", "Stutton", "Sudbury", "Tattingstone", "Trimley", "Tuddenham", "Walton",
    "Washbrook", "Westerfield", "Wherstead", "Witnesham", "Woodbridge", "Wrabness", "Yoxford",
)
_NS_KINDS = ("Road", "Lane", "Way")
_EW_KINDS = ("Street", "Avenue", "Close")
_SIZES = {"home": (7.0, 9.0), "shop": (10.0, 14.0), "work": (24.0, 30.0)}  # frontage x depth (m)
#: When the basemap's GeoPackage says it was written (GDAL stamps its tables; fixed so the bytes never change).
WRITTEN_AT = "2026-10-22T00:00:00.000Z"


def street_names(n_north_south: int, n_east_west: int) -> tuple[list[str], list[str]]:
    """Distinct names for the north-south and east-west streets, in grid order (west to east, south to north)."""
    def names(count: int, kinds: tuple[str, ...], offset: int) -> list[str]:
        return [f"{_NAMES[(offset + 7 * i) % len(_NAMES)]} {kinds[(i // len(_NAMES)) % len(kinds)]}"
                for i in range(count)]
    return names(n_north_south, _NS_KINDS, 0), names(n_east_west, _EW_KINDS, 3)


def town_streets(town: Town) -> gpd.GeoDataFrame:
    """One line per street, across the town, with ``name`` and ``highway`` (``residential``)."""
    ns, ew = street_names(len(town.xs), len(town.ys))
    x0, x1, y0, y1 = ORIGIN_X_M, ORIGIN_X_M + SIZE_M, ORIGIN_Y_M, ORIGIN_Y_M + SIZE_M
    lines = ([shapely.LineString([(x, y0), (x, y1)]) for x in town.xs]
             + [shapely.LineString([(x0, y), (x1, y)]) for y in town.ys])
    return gpd.GeoDataFrame({"name": ns + ew, "highway": "residential"}, geometry=lines, crs=BNG)


def _footprints(places: Places, frontage: float, depth: float) -> np.ndarray:
    """A rectangle behind each door, on the side away from its street."""
    away = np.sign(np.where(places.on_h, places.y - places.street, places.x - places.street))
    away = np.where(away == 0, 1.0, away)
    # along the street: frontage centred on the door; across it: from the door to depth away from the street
    along_lo = np.where(places.on_h, places.x, places.y) - frontage / 2
    across_a = np.where(places.on_h, places.y, places.x)
    across_b = across_a + away * depth
    lo, hi = np.minimum(across_a, across_b), np.maximum(across_a, across_b)
    xmin = np.where(places.on_h, along_lo, lo)
    xmax = np.where(places.on_h, along_lo + frontage, hi)
    ymin = np.where(places.on_h, lo, along_lo)
    ymax = np.where(places.on_h, hi, along_lo + frontage)
    return shapely.box(xmin, ymin, xmax, ymax)


def town_buildings(town: Town) -> gpd.GeoDataFrame:
    """Building footprints with ``building`` (``house``, ``retail``, ``commercial``); touching homes merged."""
    kinds = {"home": "house", "shop": "retail", "work": "commercial"}
    frames = []
    for kind, label in kinds.items():
        boxes = _footprints(town.places(kind), *_SIZES[kind])
        merged = shapely.get_parts(shapely.union_all(boxes))
        merged = merged[np.lexsort((shapely.bounds(merged)[:, 1], shapely.bounds(merged)[:, 0]))]
        frames.append(gpd.GeoDataFrame({"building": [label] * len(merged)}, geometry=merged, crs=BNG))
    return gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), crs=BNG)


def write_town_basemap(town: Town, path: Path) -> Path:
    """Write ``path`` (a GeoPackage): layers ``roads`` and ``buildings``, British National Grid, fixed bytes."""
    import pyogrio

    path = Path(path)
    path.unlink(missing_ok=True)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": WRITTEN_AT})
    try:
        for layer, frame in (("roads", town_streets(town)), ("buildings", town_buildings(town))):
            frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path
