"""Unit costs of crime (pounds per crime) by offence key, for the cohort report's cost of offending.

The package table ``vvol/data/crime_costs.csv`` holds the Home Office "Economic and social costs of crime"
(second edition, 2018; 2015/16 prices) unit costs, keyed by the keys of the harm table (:mod:`vvol.harm`), so
every accepted crime has a cost or, where the report has no fitting category, an explicit none. A force's own
table in the same format can replace it. The CSV has ``#`` header lines naming ``source:``, ``year:`` and
``price_year:`` and the columns ``key, unit_cost_gbp, ho_category, basis``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geomatch.core.errors import InputError
from vvol.harm import HarmTable
from vvol.reference import read_reference_table

COST_COLUMNS = ("key", "unit_cost_gbp", "ho_category", "basis")


@dataclass(frozen=True)
class CostTable:
    """Unit costs by offence key.

    Attributes:
        costs: one row per key: ``key``, ``unit_cost_gbp`` (NaN: no unit cost), ``ho_category``, ``basis``.
        source, year, price_year: the table's header lines; path: where it was read.
    """

    costs: pd.DataFrame
    source: str
    year: str
    price_year: str
    path: str

    def cost_of(self, keys: pd.Series) -> np.ndarray:
        """Pounds per crime for offence keys (NaN where the table gives no unit cost or lacks the key)."""
        by_key = dict(zip(self.costs["key"], self.costs["unit_cost_gbp"]))
        cat = keys.astype("category")
        unique = np.array([by_key.get(str(k), np.nan) for k in cat.cat.categories], float)
        codes = cat.cat.codes.to_numpy()
        return np.where(codes >= 0, np.append(unique, np.nan)[codes], np.nan)

    def check_keys(self, harm: HarmTable) -> None:
        """Every harm-table key must have a row (a cost or an explicit none), so no crime is costed by accident.

        Raises:
            InputError: a harm key is missing from the cost table.
        """
        missing = sorted(set(harm.weights["key"]) - set(self.costs["key"]))
        if missing:
            raise InputError(f"the cost table has no row for offence key '{missing[0]}' (give a cost, or an empty "
                             f"cost with basis none)", file=self.path, column="key")

    def describe(self) -> dict[str, object]:
        """What the manifest and the report record about the table."""
        return {"source": self.source, "year": self.year, "price_year": self.price_year, "path": self.path,
                "basis_counts": {str(k): int(v) for k, v in self.costs["basis"].value_counts().sort_index().items()}}


def load_cost_table(path: Path | str | None = None) -> CostTable:
    """Read a unit-cost table (``None`` = the package table).

    Raises:
        InputError: unreadable, a column or header line missing, or a cost that is not a non-negative number.
    """
    table = read_reference_table(path, package_file="crime_costs.csv", what="cost table",
                                 headers=("source", "year", "price_year"), columns=COST_COLUMNS)
    frame, header, shown = table.frame, table.header, table.shown
    cost = pd.to_numeric(frame["unit_cost_gbp"].replace("", np.nan), errors="coerce")
    bad = (frame["unit_cost_gbp"] != "") & (cost.isna() | (cost < 0))
    if bad.any():
        raise InputError("unit_cost_gbp must be a non-negative number or empty", file=shown,
                         column="unit_cost_gbp", row=int(np.flatnonzero(bad)[0]) + 1)
    costs = frame.assign(unit_cost_gbp=cost.astype(float))[list(COST_COLUMNS)].sort_values("key")
    return CostTable(costs=costs.reset_index(drop=True), source=header["source"], year=header["year"],
                     price_year=header["price_year"], path=shown)
