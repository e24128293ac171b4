"""Command line for ``geomatch`` and ``vvol``: parses options and calls the library, nothing more.

Library code logs and raises; this module prints. An :class:`geomatch.errors.InputError` becomes one sentence
on stderr and exit code 2.
"""
from __future__ import annotations

import logging
from pathlib import Path

import click

from geomatch.errors import InputError


class FriendlyGroup(click.Group):
    """A click group whose commands all report bad input as one sentence with exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as error:
            click.echo(f"error: {error.sentence()}", err=True)
            ctx.exit(2)


@click.group(cls=FriendlyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def geomatch(verbose: bool) -> None:
    """Match GPS trails of tagged subjects against crime records, score, review and audit the hits."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@click.group(cls=FriendlyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def vvol(verbose: bool) -> None:
    """V-VOL: repeat victims, offenders and locations, scored for tasking meetings."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# ---- geomatch commands -------------------------------------------------------------------------------------


def _parse_column_map(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--map theirs=ours`` options as a mapping."""
    mapping = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        if not sep or not theirs or not ours:
            raise click.BadParameter(f"expected THEIRS=OURS, got {pair!r}")
        mapping[theirs.strip()] = ours.strip()
    return mapping


@geomatch.command()
@click.option("--trails", "trails_path", required=True, type=click.Path(path_type=Path),
              help="GPS fixes: CSV, Parquet, GeoParquet or GeoPackage.")
@click.option("--crimes", "crimes_path", required=True, type=click.Path(path_type=Path),
              help="Crime records: a table, or the MoJ crime-mapping request CSV.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--crimes-format", type=click.Choice(["auto", "table", "moj"]), default="auto", show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="MatchConfig TOML file.")
@click.option("--radius-m", type=float, help="One match radius (m) for every offence.")
@click.option("--pad-min", type=float, help="One time padding (min) either side of every window.")
@click.option("--trails-map", multiple=True, metavar="THEIRS=OURS", help="Rename a trails column (repeatable).")
@click.option("--crimes-map", multiple=True, metavar="THEIRS=OURS", help="Rename a crimes column (repeatable).")
@click.option("--trails-crs", help="CRS of x/y trail columns, e.g. EPSG:27700.")
@click.option("--trails-tz", help="Time zone of trail timestamps without an offset, e.g. Europe/London.")
def match(trails_path: Path, crimes_path: Path, out_dir: Path, crimes_format: str, config_path: Path | None,
          radius_m: float | None, pad_min: float | None, trails_map: tuple[str, ...], crimes_map: tuple[str, ...],
          trails_crs: str | None, trails_tz: str | None) -> None:
    """Match trails against crimes and write hits, quarantine and a manifest to OUT."""
    from geomatch.config import MatchConfig
    from geomatch.pipeline import MatchInputs, format_summary, run_match

    config = MatchConfig.from_toml(config_path) if config_path else MatchConfig()
    if radius_m is not None or pad_min is not None:
        config = config.with_uniform_rule(radius_m, pad_min * 60.0 if pad_min is not None else None)
    inputs = MatchInputs(trails=trails_path, crimes=crimes_path, crimes_format=crimes_format,
                         trails_column_map=_parse_column_map(trails_map),
                         crimes_column_map=_parse_column_map(crimes_map), trails_crs=trails_crs,
                         trails_naive_tz=trails_tz)
    run = run_match(inputs, out_dir, config, progress=True)
    click.echo(format_summary(run))


# ---- vvol commands -----------------------------------------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    geomatch()
