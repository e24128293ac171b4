"""Harm weights: a reference table (package data, or a force's own in the same format) and offence look-up.

The table is a CSV with ``#`` comment lines on top (they must name ``source:`` and ``year:``) and the columns
``key, label, weight, basis, ho_codes, aliases`` (see ``vvol/data/harm_weights.csv``). An offence is found by its
Home Office code (``8N``, ``105A``, ``34B``), by its key (``assault_with_injury``) or by an alias, such as a
police.uk "Crime type" (``Violence and sexual offences``); names match case-insensitively with spaces and
punctuation read as ``_``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geomatch.core.errors import InputError
from vvol.reference import read_reference_table

HARM_COLUMNS = ("key", "label", "weight", "basis", "ho_codes", "aliases")


@dataclass(frozen=True)
class HarmTable:
    """Harm weights by offence key, with the names that lead to each key.

    Attributes:
        weights: one row per key: ``key``, ``label``, ``weight`` (harm points), ``basis``.
        lookup: normalised name or Home Office code -> key.
        source: the table's ``source:`` header line; year: its ``year:`` line; path: where it was read.
    """

    weights: pd.DataFrame
    lookup: dict[str, str]
    source: str
    year: str
    path: str

    def resolve(self, offences: pd.Series) -> tuple[pd.Series, np.ndarray]:
        """Offence text -> (key, or NA where unknown; weight in harm points, NaN where unknown), vectorised."""
        cat = offences.astype("category")  # free when the column was read as a categorical
        codes, uniques = cat.cat.codes.to_numpy(), cat.cat.categories
        keys_unique = np.array([self.lookup.get(_normal(u)) for u in uniques], dtype=object)
        weight_by_key = dict(zip(self.weights["key"], self.weights["weight"]))
        weights_unique = np.array([weight_by_key.get(k, np.nan) if k else np.nan for k in keys_unique], float)
        found = codes >= 0
        keys = np.full(len(offences), None, dtype=object)
        weights = np.full(len(offences), np.nan)
        keys[found] = keys_unique[codes[found]]
        weights[found] = weights_unique[codes[found]]
        return pd.Series(keys, index=offences.index, dtype="string"), weights

    def describe(self) -> dict[str, object]:
        """What the manifest records about the table."""
        return {"source": self.source, "year": self.year, "path": self.path, "keys": len(self.weights),
                "basis_counts": {str(k): int(v) for k, v in self.weights["basis"].value_counts().sort_index().items()}}


def _normal(text: object) -> str:
    """Look-up form of an offence name or code: lower case, runs of non-alphanumerics (except '.') as '_'."""
    return re.sub(r"[^0-9a-z.]+", "_", str(text).strip().lower()).strip("_")


def load_harm_table(path: Path | str | None = None) -> HarmTable:
    """Read a harm table (``None`` = the package table ``vvol/data/harm_weights.csv``).

    Raises:
        InputError: the file is unreadable, lacks a column or a ``source:``/``year:`` header, has a weight that is
            not a non-negative number, or gives one name or code to two keys.
    """
    table = read_reference_table(path, package_file="harm_weights.csv", what="harm table",
                                 headers=("source", "year"), columns=HARM_COLUMNS)
    frame, header, shown = table.frame, table.header, table.shown
    weight = pd.to_numeric(frame["weight"], errors="coerce")
    if weight.isna().any() or (weight < 0).any():
        row = int(np.flatnonzero(weight.isna() | (weight < 0))[0]) + 1
        raise InputError("weight must be a non-negative number", file=shown, column="weight", row=row)
    frame = frame.assign(key=frame["key"].map(_normal), weight=weight.astype(float))
    lookup: dict[str, str] = {}
    for key, codes, aliases in zip(frame["key"], frame["ho_codes"], frame["aliases"]):
        names = [key] + [c for c in codes.split() if c] + [a for a in aliases.split("|") if a.strip()]
        for name in names:
            normal = _normal(name)
            if lookup.get(normal, key) != key:
                raise InputError(f"'{name}' names two offences ({lookup[normal]} and {key})", file=shown)
            lookup[normal] = key
    weights = frame[["key", "label", "weight", "basis"]].sort_values("key").reset_index(drop=True)
    return HarmTable(weights=weights, lookup=lookup, source=header["source"], year=header["year"], path=shown)
