"""Basemaps from local files: layers classified, reprojected and cut to the view, road names placed, MBTiles and
PMTiles raster tiles and GeoTIFF images resampled onto the grid, the settings file, and the sample town's basemap."""
from __future__ import annotations

import hashlib
import io
import math
import sqlite3

import geopandas as gpd
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from shapely.geometry import LineString, Point, box

from geomatch.core.crs import BNG, WGS84, transform
from geomatch.core.errors import InputError
from geomatch.evidence.basemap import _vector_layers, check_basemap, draw_basemap, read_basemap, road_labels
from geomatch.evidence.context import EvidenceOptions
from geomatch.evidence.settings import load_settings

SCENE = (615000.0, 243000.0)
VIEW = (SCENE[0] - 200, SCENE[0] + 200, SCENE[1] - 200, SCENE[1] + 200)


def _roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["Alder Road", "Bramford Street", "Far Lane"]}, geometry=[
        LineString([(SCENE[0] - 1000, SCENE[1] + 30), (SCENE[0] + 1000, SCENE[1] + 30)]),
        LineString([(SCENE[0] - 40, SCENE[1] - 1000), (SCENE[0] - 40, SCENE[1] + 1000)]),
        LineString([(SCENE[0] + 5000, SCENE[1]), (SCENE[0] + 6000, SCENE[1])])], crs=BNG)


@pytest.fixture()
def gpkg(tmp_path):
    """A GeoPackage with named roads stored in WGS84, buildings and water in BNG, and a points layer."""
    path = tmp_path / "town.gpkg"
    _roads().to_crs(WGS84).to_file(path, layer="Roads", driver="GPKG")
    gpd.GeoDataFrame({"use": ["house", "far"]}, geometry=[box(SCENE[0] + 10, SCENE[1] + 40, SCENE[0] + 20,
                                                              SCENE[1] + 50), box(0, 0, 10, 10)],
                     crs=BNG).to_file(path, layer="building_areas", driver="GPKG")
    gpd.GeoDataFrame({"n": [1]}, geometry=[box(SCENE[0] + 100, SCENE[1] - 150, SCENE[0] + 300, SCENE[1] - 100)],
                     crs=BNG).to_file(path, layer="tidal_water", driver="GPKG")
    gpd.GeoDataFrame({"n": [1]}, geometry=[Point(SCENE)], crs=BNG).to_file(path, layer="postboxes", driver="GPKG")
    return path


def test_layers_are_classified_reprojected_and_cut_to_the_view(gpkg):
    layers = {layer: (kind, name) for layer, kind, name in _vector_layers(str(gpkg))}
    assert layers == {"Roads": ("roads", "name"), "building_areas": ("buildings", None),
                      "tidal_water": ("water", None)}  # points are not drawn
    basemap = read_basemap([gpkg], BNG, VIEW)
    assert sorted(basemap.roads["name"]) == ["Alder Road", "Bramford Street"]  # Far Lane is outside the view
    bounds = basemap.roads.total_bounds
    assert bounds[0] >= VIEW[0] - 1e-6 and bounds[2] <= VIEW[1] + 1e-6  # cut to the view
    horizontal = basemap.roads[basemap.roads["name"] == "Alder Road"].geometry.iloc[0]
    assert horizontal.coords[0][1] == pytest.approx(SCENE[1] + 30, abs=0.05)  # back from WGS84 to BNG
    assert len(basemap.buildings) == 1 and basemap.buildings.iloc[0].area == pytest.approx(100.0)
    assert basemap.water.iloc[0].area == pytest.approx(100 * 50)  # 200 m long, half of it in the view


def test_road_names_are_placed_along_their_road_once_each(gpkg):
    basemap = read_basemap([gpkg], BNG, VIEW)
    labels = {name: (x, y, angle) for x, y, angle, name in road_labels(basemap.roads, VIEW)}
    assert set(labels) == {"Alder Road", "Bramford Street"}
    x, y, angle = labels["Alder Road"]
    assert (y, angle) == (pytest.approx(SCENE[1] + 30, abs=0.05), pytest.approx(0.0, abs=0.01))
    x, y, angle = labels["Bramford Street"]
    assert x == pytest.approx(SCENE[0] - 40, abs=0.05) and abs(angle) == pytest.approx(90.0, abs=0.01)
    assert math.dist(labels["Alder Road"][:2], (x, y)) >= 0.18 * 400  # moved along its road, clear of the other
    fig = Figure(figsize=(6, 6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(VIEW[0], VIEW[1])
    ax.set_ylim(VIEW[2], VIEW[3])
    draw_basemap(ax, EvidenceOptions(basemap=gpkg, crs=BNG), VIEW)
    assert sorted(t.get_text() for t in ax.texts) == ["Alder Road", "Bramford Street"]


@pytest.mark.parametrize("suffix,driver", [(".shp", "ESRI Shapefile"), (".geojson", "GeoJSON"),
                                           (".fgb", "FlatGeobuf")])
def test_single_layer_formats(tmp_path, suffix, driver):
    path = tmp_path / f"streets{suffix}"
    _roads().to_file(path, driver=driver)
    basemap = read_basemap(check_basemap([path]), BNG, VIEW)
    assert sorted(basemap.roads["name"]) == ["Alder Road", "Bramford Street"]


def test_bad_basemaps_are_refused_naming_the_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        check_basemap([tmp_path / "nope.gpkg"])
    text = tmp_path / "roads.txt"
    text.write_text("x")
    with pytest.raises(InputError, match="vector file"):
        check_basemap([text])
    vector_tiles = tmp_path / "v.mbtiles"
    with sqlite3.connect(vector_tiles) as con:
        con.execute("CREATE TABLE metadata (name text, value text)")
        con.execute("CREATE TABLE tiles (zoom_level int, tile_column int, tile_row int, tile_data blob)")
        con.execute("INSERT INTO metadata VALUES ('format', 'pbf')")
    with pytest.raises(InputError, match="only raster tiles"):
        check_basemap([vector_tiles])


def _tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """The XYZ tile holding a WGS84 point (the slippy-map formula)."""
    n = 2 ** zoom
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
def test_tile_archives_are_resampled_onto_the_grid(tmp_path, kind):
    """Each of 5 x 5 tiles at zoom 17 around the scene is one flat colour; the resampled raster shows, at the
    scene and at a point 150 m north-east, the colour of the tile that holds each point. The PMTiles archive is
    the MBTiles one converted by the pmtiles library (rows from the top rather than the bottom)."""
    zoom = 17
    lon, lat = transform(np.array([SCENE[0]]), np.array([SCENE[1]]), BNG, WGS84)
    cx, cy = _tile_of(float(lon[0]), float(lat[0]), zoom)
    path = tmp_path / "tiles.mbtiles"
    colour = {}
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE metadata (name text, value text)")
        con.execute("CREATE TABLE tiles (zoom_level int, tile_column int, tile_row int, tile_data blob)")
        con.executemany("INSERT INTO metadata VALUES (?, ?)", [("format", "png"), ("name", "test"),
                                                               ("minzoom", "17"), ("maxzoom", "17")])
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                rgb = (40 * (dx + 2) + 20, 40 * (dy + 2) + 20, 200)
                colour[(cx + dx, cy + dy)] = rgb
                buffer = io.BytesIO()
                Image.new("RGB", (256, 256), rgb).save(buffer, format="PNG")
                con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                            (zoom, cx + dx, 2 ** zoom - 1 - (cy + dy), buffer.getvalue()))
    if kind == "pmtiles":
        from pmtiles.convert import mbtiles_to_pmtiles

        mbtiles_to_pmtiles(str(path), str(tmp_path / "tiles.pmtiles"), None)
        path = tmp_path / "tiles.pmtiles"
    view = (SCENE[0] - 250, SCENE[0] + 250, SCENE[1] - 250, SCENE[1] + 250)
    (raster,) = read_basemap(check_basemap([path]), BNG, view, raster_px=500).rasters
    assert raster.rgb.shape == (500, 500, 3) and (raster.alpha == 255).all()
    for east, north in [(0.0, 0.0), (150.0, 150.0)]:
        x, y = SCENE[0] + east, SCENE[1] + north
        plon, plat = transform(np.array([x]), np.array([y]), BNG, WGS84)
        expected = colour[_tile_of(float(plon[0]), float(plat[0]), zoom)]
        col, row = int((x - view[0]) / 500 * 500), int((view[3] - y) / 500 * 500)
        assert tuple(raster.rgb[row, col]) == expected


def _geotiff(path, bands: np.ndarray, crs: str, bounds: tuple[float, float, float, float], **profile):
    """Write ``bands`` (count, rows, cols) as a GeoTIFF covering ``bounds`` (west, south, east, north) in ``crs``."""
    import rasterio
    from rasterio.transform import from_bounds

    count, rows, cols = bands.shape
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=count, dtype=bands.dtype,
                       crs=crs, transform=from_bounds(*bounds, cols, rows) if crs else None, **profile) as out:
        out.write(bands)
    return path


def test_a_geotiff_in_another_crs_is_warped_onto_the_grid(tmp_path):
    """An RGB image in WGS84 whose four quadrants around the scene have four colours, covering only 300 m
    either side: on the BNG grid each point shows its quadrant's colour, and beyond the image alpha is 0."""
    lon, lat = transform(np.array([SCENE[0] - 300, SCENE[0], SCENE[0] + 300]),
                         np.array([SCENE[1] - 300, SCENE[1], SCENE[1] + 300]), BNG, WGS84)
    quadrants = {"nw": (200, 30, 30), "ne": (30, 200, 30), "sw": (30, 30, 200), "se": (200, 200, 30)}
    image = np.zeros((3, 200, 200), dtype=np.uint8)
    for name, (top, left) in {"nw": (0, 0), "ne": (0, 100), "sw": (100, 0), "se": (100, 100)}.items():
        image[:, top:top + 100, left:left + 100] = np.array(quadrants[name], dtype=np.uint8)[:, None, None]
    # the image's corners and middle in WGS84: the middle is the scene, so quadrants meet there
    bounds = (float(lon[0]), float(lat[0]), 2 * float(lon[1]) - float(lon[0]), 2 * float(lat[1]) - float(lat[0]))
    path = _geotiff(tmp_path / "aerial.tif", image, "EPSG:4326", bounds)
    view = (SCENE[0] - 400, SCENE[0] + 400, SCENE[1] - 400, SCENE[1] + 400)
    (raster,) = read_basemap(check_basemap([path]), BNG, view, raster_px=400).rasters
    assert raster.rgb.shape == (400, 400, 3)

    def pixel(east: float, north: float) -> tuple[int, int]:
        return int((view[3] - SCENE[1] - north) / 2), int((SCENE[0] + east - view[0]) / 2)

    for name, (east, north) in {"nw": (-150, 150), "ne": (150, 150), "sw": (-150, -150), "se": (150, -150)}.items():
        row, col = pixel(east, north)
        assert tuple(raster.rgb[row, col]) == quadrants[name] and raster.alpha[row, col] == 255
    row, col = pixel(380, 380)
    assert raster.alpha[row, col] == 0  # beyond the image


def test_grey_and_palette_geotiffs_are_drawn_and_others_refused(tmp_path):
    bounds = (SCENE[0] - 100, SCENE[1] - 100, SCENE[0] + 100, SCENE[1] + 100)
    grey = _geotiff(tmp_path / "grey.tif", np.full((1, 10, 10), 90, dtype=np.uint8), BNG, bounds)
    (raster,) = read_basemap(check_basemap([grey]), BNG, VIEW, raster_px=40).rasters
    assert tuple(raster.rgb[20, 20]) == (90, 90, 90)
    import rasterio

    palette = _geotiff(tmp_path / "palette.tif", np.full((1, 10, 10), 3, dtype=np.uint8), BNG, bounds)
    with rasterio.open(palette, "r+") as image:
        image.write_colormap(1, {3: (10, 120, 250, 255)})
    (raster,) = read_basemap(check_basemap([palette]), BNG, VIEW, raster_px=40).rasters
    assert tuple(raster.rgb[20, 20]) == (10, 120, 250)
    heights = _geotiff(tmp_path / "dem.tif", np.zeros((1, 10, 10), dtype=np.float32), BNG, bounds)
    with pytest.raises(InputError, match="8-bit samples") as error:
        check_basemap([heights])
    assert "dem.tif" in str(error.value)
    bare = _geotiff(tmp_path / "bare.tif", np.zeros((3, 10, 10), dtype=np.uint8), None, bounds)
    with pytest.raises(InputError, match="does not say its CRS"):
        check_basemap([bare])
    far = _geotiff(tmp_path / "far.tif", np.zeros((3, 10, 10), dtype=np.uint8), BNG, (0, 0, 100, 100))
    assert read_basemap(check_basemap([far]), BNG, VIEW).rasters == ()  # nothing of it in the view


def test_settings_file_sets_the_basemap_once(tmp_path, gpkg, monkeypatch):
    assert load_settings(folder=tmp_path).basemap == ()
    (tmp_path / "geomatch.toml").write_text(f'[evidence]\nbasemap = "{gpkg.name}"\n')
    settings = load_settings(folder=tmp_path)
    assert settings.basemap == (gpkg.resolve(),)
    other = tmp_path / "force.toml"
    other.write_text('[evidence]\nbasemap = ["missing.gpkg"]\n')
    with pytest.raises(InputError, match="does not exist"):
        load_settings(other)
    other.write_text('[evidence]\nbasemaps = "x"\n')
    with pytest.raises(InputError, match="unknown setting"):
        load_settings(other)


def test_the_sample_towns_basemap_is_deterministic_and_named(tmp_path):
    from geomatch.simulate.streets import town_buildings, town_streets, write_town_basemap
    from geomatch.simulate.town import build_town

    town = build_town(np.random.default_rng(np.random.SeedSequence(1).spawn(6)[0]))
    first, second = write_town_basemap(town, tmp_path / "a.gpkg"), write_town_basemap(town, tmp_path / "b.gpkg")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    streets = town_streets(town)
    assert streets["name"].is_unique and len(streets) == len(town.xs) + len(town.ys)
    buildings = town_buildings(town)
    assert buildings.geometry.is_valid.all() and set(buildings["building"]) == {"house", "retail", "commercial"}
    # every home's door lies on the outline of its building, on the side facing its street
    doors = gpd.GeoSeries(gpd.points_from_xy(town.homes.x, town.homes.y), crs=BNG)
    houses = buildings[buildings["building"] == "house"]
    assert (doors.distance(houses.geometry.union_all()) < 1e-6).all()
    assert [layer for layer, _, _ in _vector_layers(str(first))] == ["roads", "buildings"]
