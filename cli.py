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


# ---- vvol commands -----------------------------------------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    geomatch()
