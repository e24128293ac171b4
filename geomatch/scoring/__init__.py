"""Ranking hits by credibility, with reasons: routine places from each subject's own trail, features per hit with
a plain meaning, a transparent default model (documented points, deterministic), and an optional model fitted
on reviewed outcomes that is used only when it beats the default on held-out reviews.

``Scorer().score(hits, trails, crimes)`` adds :data:`SCORE_COLUMNS` to a hits table and never drops a hit.
"""
from __future__ import annotations

from geomatch.scoring.config import ScoreConfig, Weights
from geomatch.scoring.features import FEATURES, hit_features
from geomatch.scoring.fit import FitReport, FittedModel, default_model_path, fit_model, load_model
from geomatch.scoring.model import TERMS, default_scores, points
from geomatch.scoring.scorer import SCORE_COLUMNS, Scorer, with_scenes

__all__ = [
    "FEATURES", "FitReport", "FittedModel", "SCORE_COLUMNS", "ScoreConfig", "Scorer", "TERMS", "Weights",
    "default_model_path", "default_scores", "fit_model", "hit_features", "load_model", "points", "with_scenes",
]
