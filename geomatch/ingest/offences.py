"""The offence taxonomy and the codes that map onto it (package data, with source and year in its header)."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd


def _read_data(name: str) -> pd.DataFrame:
    with resources.files("geomatch.ingest").joinpath("data", name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, comment="#", dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def offence_table() -> pd.DataFrame:
    """The taxonomy: ``offence`` key, ``description``, default ``radius_m`` (metres) and ``pad_min`` (minutes)."""
    table = _read_data("offences.csv")
    table["radius_m"] = table["radius_m"].astype(float)
    table["pad_min"] = table["pad_min"].astype(float)
    return table.set_index("offence")


@lru_cache(maxsize=1)
def code_lookup() -> dict[str, str]:
    """Every accepted spelling of an offence, upper-cased, mapped to its taxonomy key.

    Taxonomy keys map to themselves; MoJ codes (``BIAD``) and Home Office codes (``28E``, ``37/2``) to theirs.
    """
    lookup = {key.upper(): key for key in offence_table().index}
    codes = _read_data("offence_codes.csv")
    lookup.update({code.upper(): offence for code, offence in zip(codes["code"], codes["offence"])})
    return lookup


def normalise_offences(values: pd.Series) -> pd.Series:
    """Map offence keys or codes to taxonomy keys; unknown values become NA (to be quarantined)."""
    text = values.astype("string").str.strip().str.upper()
    return text.map(code_lookup()).astype("string")
