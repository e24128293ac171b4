"""Row validation with quarantine, shared by ``geomatch`` and ``vvol``.

Every input row is either accepted or set aside with a reason code and its original values, so that
``rows in = rows accepted + rows quarantined`` always holds. A validator builds a :class:`RowChecks`, adds one
boolean mask per rule (True where the row breaks it), and :meth:`RowChecks.split` returns both parts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from geomatch.core.errors import InputError

SOURCE_ROW = "source_row"
"""Column carried on every table read from a file: the 1-based data row number in that file."""

REASON = "reason"
"""Quarantine column: the reason code(s) of the first rules a row broke, joined with ``;``."""

SOURCE_FILE = "source_file"
"""Column carried on a table read from several files: the file each row came from."""

RAW_LINE = "raw_line"
"""Column present when a CSV file had lines with the wrong number of fields: the line's text (else missing)."""

LINE_NUMBER = "line_number"
"""Column present with :data:`RAW_LINE`: the physical line number (1-based) of a malformed line."""

MALFORMED_LINE = "malformed_line"
"""Reason code of a line whose field count differs from the header's (its fields are not read)."""


@dataclass(frozen=True)
class Validated:
    """The result of validating one input file.

    Attributes:
        name: short name of the input (``trails``, ``crimes``, ...), used for the quarantine file name.
        source: where the rows came from (a path), for reports.
        accepted: the rows that passed, cleaned.
        quarantined: the rows that failed with their original values, ``source_row`` and ``reason``.
        rows_in: number of rows read.
        crs: the CRS of the accepted rows' ``x``/``y`` (metres; ``EPSG:27700`` or a UTM zone), or ``None`` for
            rows without coordinates.
        notes: what people should know about how the input was read (an encoding fallback, malformed lines).
        per_file: when the rows came from several files, ``{file: {"rows_in", "accepted", "quarantined"}}``
            (each file reconciles, and their sums are the totals).
    """

    name: str
    source: str
    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    rows_in: int
    crs: str | None = None
    per_file: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.rows_in != len(self.accepted) + len(self.quarantined):
            raise AssertionError(
                f"{self.source}: {self.rows_in} rows in but {len(self.accepted)} accepted + "
                f"{len(self.quarantined)} quarantined"
            )
        for name, counts in self.per_file.items():
            if counts["rows_in"] != counts["accepted"] + counts["quarantined"]:
                raise AssertionError(f"{self.source}: file {name} does not reconcile: {counts}")
        if self.per_file and sum(c["rows_in"] for c in self.per_file.values()) != self.rows_in:
            raise AssertionError(f"{self.source}: the files' rows do not add up to {self.rows_in}")

    def counts(self) -> dict[str, int]:
        """Row counts for run summaries and manifests."""
        return {"rows_in": self.rows_in, "accepted": len(self.accepted), "quarantined": len(self.quarantined)}

    def reason_counts(self) -> dict[str, int]:
        """How many quarantined rows gave each reason code (a row may give several)."""
        if self.quarantined.empty:
            return {}
        codes = self.quarantined[REASON].str.split(";").explode()
        return {str(k): int(v) for k, v in codes.value_counts().sort_index().items()}

    def write_quarantine(self, directory: Path) -> Path:
        """Write the quarantined rows to ``directory/<name>.csv`` (always written, possibly with no rows)."""
        from geomatch.core.safe import write_safe_csv

        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.csv"
        write_safe_csv(self.quarantined, path)
        return path


@dataclass
class RowChecks:
    """Collects per-row rule violations over the original (raw) table.

    ``raw`` keeps the original values; masks are aligned to it by position. A row's reasons are the codes of
    every rule it broke, in the order the rules were added. A malformed line (``raw_line`` given, see
    :mod:`geomatch.core.tables`) is quarantined as ``malformed_line`` alone: its fields were never read, so the
    other rules say nothing about it.
    """

    raw: pd.DataFrame
    _reasons: list[tuple[str, np.ndarray]] = field(default_factory=list)
    """Each rule's broken rows: a boolean mask, or (for the usual few broken rows) their sorted positions, so that
    a dozen rules over millions of rows do not each hold a mask."""

    def __post_init__(self) -> None:
        self._malformed = (self.raw[RAW_LINE].notna().to_numpy(dtype=bool) if RAW_LINE in self.raw
                           else np.zeros(len(self.raw), dtype=bool))
        if self._malformed.any():
            self._reasons.append((MALFORMED_LINE, self._malformed))

    def add(self, code: str, broken: pd.Series | np.ndarray) -> None:
        """Record rule ``code``; ``broken`` is True for rows that break it (NaN counts as not broken)."""
        if isinstance(broken, np.ndarray) and broken.dtype == bool:
            mask = broken  # no NaN to fill: taken as it is
        else:
            mask = np.asarray(pd.Series(broken).fillna(False).to_numpy(), dtype=bool)
        if mask.shape != (len(self.raw),):
            raise ValueError(f"mask for {code!r} has shape {mask.shape}, expected ({len(self.raw)},)")
        if self._malformed.any():
            mask = mask & ~self._malformed
        broken_rows = np.count_nonzero(mask)
        self._reasons.append((code, np.zeros(0, dtype=np.intp) if not broken_rows else np.flatnonzero(mask)
                              if broken_rows * 8 < len(mask) else mask.copy()))

    def add_flags(self, rules: Sequence[tuple[str, int]], flags: np.ndarray, flagged: int) -> None:
        """Record several rules at once from per-row bit flags (as a compiled kernel sets them), in the order
        given: ``rules`` pairs each code with its bit; ``flagged`` is how many rows have any bit set. When few
        rows are flagged, they are found once and each rule is read off them (no mask a rule)."""
        if flagged * 8 >= len(flags):
            for code, bit in rules:
                self.add(code, (flags & bit) != 0)
            return
        rows = np.flatnonzero(flags) if flagged else np.zeros(0, dtype=np.intp)
        if self._malformed.any():
            rows = rows[~self._malformed[rows]]
        for code, bit in rules:
            self._reasons.append((code, rows[(flags[rows] & bit) != 0]))

    @property
    def bad(self) -> np.ndarray:
        """True for every row that broke at least one rule."""
        bad = np.zeros(len(self.raw), dtype=bool)
        for _, broken in self._reasons:
            if broken.dtype == bool:
                bad |= broken
            else:
                bad[broken] = True
        return bad

    def reasons(self, rows: np.ndarray) -> np.ndarray:
        """The ``;``-joined reason codes of the rows at positions ``rows`` (empty string for a clean row)."""
        out = np.full(len(rows), "", dtype=object)
        for code, broken in self._reasons:
            if broken.dtype == bool:
                hit = broken[rows]
            else:
                at = np.minimum(np.searchsorted(broken, rows), max(len(broken) - 1, 0))
                hit = broken[at] == rows if len(broken) else np.zeros(len(rows), dtype=bool)
            out[hit] = np.where(out[hit] == "", code, out[hit] + ";" + code)
        return out

    def add_duplicate_keys(self, cleaned: pd.DataFrame, key: str) -> None:
        """Rules for a column that must be unique: a repeated key whose row is otherwise identical is a
        ``duplicate_row`` (the first is kept); a key repeated with different content quarantines every copy as
        ``duplicate_<key>_conflict``, since no rule can tell which record is right. ``source_row`` is ignored."""
        keys = cleaned[key]
        repeated = keys.duplicated(keep=False).to_numpy() & keys.notna().to_numpy()
        if not repeated.any():
            return
        content = cleaned.drop(columns=[SOURCE_ROW], errors="ignore")
        exact_repeat = content.duplicated(keep="first").to_numpy()
        versions = content[repeated].drop_duplicates().groupby(key, observed=True).size()
        conflicting = keys.isin(versions[versions > 1].index).to_numpy()
        self.add("duplicate_row", repeated & exact_repeat & ~conflicting)
        self.add(f"duplicate_{key}_conflict", conflicting)

    def split(self, name: str, source: str, cleaned: pd.DataFrame, order: np.ndarray | None = None, *,
              crs: str | None = None, notes: tuple[str, ...] = ()) -> Validated:
        """Split into accepted rows (taken from ``cleaned``, aligned to ``raw``) and quarantined raw rows.

        ``order``, a permutation of the rows, gives the order of the accepted rows (file order by default);
        ``crs`` is that of the cleaned ``x``/``y``.
        """
        bad = self.bad
        bad_rows = np.flatnonzero(bad)
        quarantined = (self.raw.take(bad_rows) if len(bad_rows) else self.raw.iloc[:0]).reset_index(drop=True)
        quarantined[REASON] = self.reasons(bad_rows)
        if order is None and not bad.any():
            accepted = cleaned.reset_index(drop=True)  # nothing to drop or reorder: no copy
        else:
            accepted = cleaned.take(np.flatnonzero(~bad) if order is None else order[~bad[order]])
            accepted = accepted.reset_index(drop=True)
        return Validated(name=name, source=source, accepted=accepted, quarantined=quarantined,
                         rows_in=len(self.raw), crs=crs, per_file=self.per_file(bad), notes=notes)

    def per_file(self, bad: np.ndarray) -> dict[str, dict[str, int]]:
        """Rows in, accepted and quarantined per file, for rows read from several files (else empty)."""
        if SOURCE_FILE not in self.raw:
            return {}
        files = self.raw[SOURCE_FILE].astype("category")
        rows_in = files.value_counts(sort=False)
        quarantined = files[bad].value_counts(sort=False)
        return {str(name): {"rows_in": int(rows_in[name]), "accepted": int(rows_in[name] - quarantined[name]),
                            "quarantined": int(quarantined[name])} for name in files.cat.categories}


def accepted_in_one_crs(trails: Validated | pd.DataFrame,
                        crimes: Validated | pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """The accepted rows of trails and crimes, and their shared CRS (``None`` where neither says).

    Plain DataFrames are taken as they are (their CRS unknown); :class:`Validated` inputs say theirs.

    Raises:
        InputError: both say their CRS and the two differ (every distance between them would be wrong).
    """
    from geomatch.core.crs import same_crs  # pyproj only when needed

    trails_crs = trails.crs if isinstance(trails, Validated) else None
    crimes_crs = crimes.crs if isinstance(crimes, Validated) else None
    if trails_crs and crimes_crs and not same_crs(trails_crs, crimes_crs):
        raise InputError(f"the trails' x/y are in {trails_crs} but the crimes' in {crimes_crs}, so no distance "
                         f"between them would be true; load the crimes with target_crs=trails.crs",
                         file=crimes.source)
    return (trails.accepted if isinstance(trails, Validated) else trails,
            crimes.accepted if isinstance(crimes, Validated) else crimes, trails_crs or crimes_crs)
