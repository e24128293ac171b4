"""Scoring a hits table: features, then the default model (or a fitted one that proved better), then reasons."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geomatch.match.config import MatchConfig
from geomatch.core.errors import InputError
from geomatch.core.manifest import to_jsonable
from geomatch.scoring.config import ScoreConfig
from geomatch.scoring.features import FEATURES, hit_features
from geomatch.scoring.fit import FittedModel
from geomatch.scoring.model import points, score_from_points
from geomatch.scoring.reasons import all_reasons

#: Columns scoring adds to a hits table, after the matcher's: the scene, the features, the score and reasons.
SCORE_COLUMNS = [*FEATURES, "score", "reasons"]
DEFAULT_MODEL = "default"


def with_scenes(hits: pd.DataFrame, crimes: pd.DataFrame | None) -> pd.DataFrame:
    """``hits`` with their crime's scene in ``scene_x``/``scene_y`` (metres, the hits' CRS), taken from
    ``crimes`` (``crime_ref``, ``x``, ``y``), or kept from an earlier scoring when ``crimes`` is None."""
    if crimes is None:
        if not {"scene_x", "scene_y"} <= set(hits.columns):
            raise InputError("the hits carry no scene coordinates (scene_x, scene_y): give the crimes file too")
        return hits
    scenes = crimes.drop_duplicates("crime_ref").set_index("crime_ref")[["x", "y"]]
    refs = hits["crime_ref"].astype(str)
    row = scenes.index.astype(str).get_indexer(refs)  # each hit's crime, one hash lookup per hit
    missing = row < 0
    if missing.any():
        raise InputError(f"{int(missing.sum())} hits name a crime that is not in the crimes file, e.g. "
                         f"'{refs[missing].iloc[0]}'", column="crime_ref")
    out = hits.copy()  # the matcher's hits carry scene_x/scene_y already: replaced in place, else added
    out["scene_x"] = scenes["x"].to_numpy(float)[row]
    out["scene_y"] = scenes["y"].to_numpy(float)[row]
    return out


@dataclass(frozen=True)
class Scorer:
    """How hits are scored: the routine and points settings, and optionally a fitted model, which is used only
    when its held-out comparison with the default model found it better. A fitted model in use brings the
    settings it was fitted with (features must mean what they meant in training)."""

    config: ScoreConfig = field(default_factory=ScoreConfig)
    model: FittedModel | None = None

    @property
    def uses_fitted(self) -> bool:
        return self.model is not None and self.model.report.better

    @property
    def settings(self) -> ScoreConfig:
        """The settings in force: the fitted model's when it is used, else :attr:`config`."""
        return self.model.config if self.uses_fitted else self.config

    def score(self, hits: pd.DataFrame, trails: pd.DataFrame, crimes: pd.DataFrame | None = None,
              match_config: MatchConfig | None = None, *, progress: bool = False) -> pd.DataFrame:
        """Every hit with :data:`SCORE_COLUMNS` added (replaced when already there); no hit is dropped and the
        row order is kept.

        Args:
            hits: hits from :func:`geomatch.match.matcher.match_hits` (or an earlier scored hits table).
            trails: the accepted fixes the hits were matched on.
            crimes: the accepted crimes, to take the scenes from; None keeps the hits' ``scene_x``/``scene_y``.
            match_config: the matching parameters used (the longest step joined by a straight path).
            progress: show a progress bar (stderr).
        """
        base = with_scenes(hits.drop(columns=[c for c in SCORE_COLUMNS if c in hits.columns]), crimes)
        settings = self.settings
        table = pd.concat([base, hit_features(base, trails, settings, match_config, progress=progress)], axis=1)
        terms = points(table, settings)
        score = self.model.scores(table) if self.uses_fitted else score_from_points(terms)
        reasons = all_reasons(table, terms, settings)
        if self.uses_fitted:
            reasons = [f"{r}; score from the model fitted on {self.model.report.n_reviews} reviews" for r in reasons]
        return table.assign(score=np.asarray(score, dtype=float), reasons=pd.Series(reasons, index=table.index,
                                                                                   dtype=object))

    def describe(self) -> dict[str, Any]:
        """What scored the run, for the manifest: the model used, its settings, and a fitted model's record."""
        record: dict[str, Any] = {"model": "fitted" if self.uses_fitted else DEFAULT_MODEL,
                                  "config": to_jsonable(self.settings)}
        if self.model is not None:
            record["fitted_model"] = self.model.describe()
            if not self.uses_fitted:
                record["fitted_model"]["not_used"] = "it did not beat the default model on held-out reviews"
        return record
