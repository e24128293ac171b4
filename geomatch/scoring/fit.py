"""A scoring model fitted on reviewed outcomes, compared with the default model on held-out reviews.

Reviews with outcome arrest, charge, caution or investigation mark a hit *credible*; no further action marks it
*not credible*; other outcomes (already known, intelligence submitted, recall) say nothing either way and are
left out. The model is a scikit-learn :class:`~sklearn.calibration.CalibratedClassifierCV` over a logistic
regression (default) or gradient boosting, on :func:`model_matrix` (the features, transformed, plus the default
model's score). Both models are judged on the same out-of-fold predictions (stratified k-fold, seeded): ROC AUC
and average precision. The fitted model is *better* when its ROC AUC is higher by at least
:data:`MIN_AUC_GAIN` and its average precision is no lower; only then does a
:class:`~geomatch.scoring.scorer.Scorer` use it.

Model files are written with joblib (a pickle): load only files this tool wrote (the manifest records their
SHA-256).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from geomatch.core.errors import InputError
from geomatch.core.manifest import sha256_file
from geomatch.scoring.config import ScoreConfig
from geomatch.scoring.features import FEATURES
from geomatch.scoring.model import HIT_INPUTS, default_scores

CREDIBLE = ("arrest", "charge", "caution", "investigation")
NOT_CREDIBLE = ("no_further_action",)
MIN_PER_CLASS = 5
MIN_REVIEWS = 20
MIN_AUC_GAIN = 0.005  # the fitted model must beat the default's held-out ROC AUC by this much to be used
FORMAT = "geomatch-score-model/1"
Estimator = Literal["logistic", "boosting"]
MATRIX_COLUMNS = ("observed", "interpolated", "possible", "distance_share", "log_approach_ratio", "log_stop_min",
                  "log_speed_near", "offset_share", "has_offset", "log_window_h", "log_home_km", "log_days_passing",
                  "log_days_stopped", "log_routine_days", "lbs", "wifi", "log_accuracy", "log_gap_min",
                  "default_score")


def labels(outcomes: pd.Series) -> pd.Series:
    """1 for credible outcomes, 0 for no further action, NaN for outcomes that say neither."""
    return outcomes.map(lambda o: 1.0 if o in CREDIBLE else 0.0 if o in NOT_CREDIBLE else np.nan).astype(float)


def model_matrix(table: pd.DataFrame, config: ScoreConfig) -> np.ndarray:
    """The fitted model's inputs (:data:`MATRIX_COLUMNS`), from hit columns and features; no NaN."""
    f = {c: table[c].to_numpy(dtype=float) for c in ("min_distance_m", "radius_m", "approach_ratio", "stop_s",
                                                      "speed_near_mps", "stop_offset_m", "window_s",
                                                      "home_distance_m", "days_passing", "days_stopped",
                                                      "routine_days", "accuracy_at_closest_m", "max_gap_s")}
    presence = table["presence"].astype(str).to_numpy()
    source = table["source_at_closest"].astype(str).to_numpy()
    columns = [
        presence == "observed", presence == "interpolated", presence == "possible",
        np.clip(f["min_distance_m"] / f["radius_m"], 0.0, 5.0),
        np.log1p(np.clip(f["approach_ratio"], 0.0, 1e3)),
        np.log1p(f["stop_s"] / 60.0),
        np.log1p(np.nan_to_num(f["speed_near_mps"], nan=0.0)),
        np.clip(np.nan_to_num(f["stop_offset_m"], nan=0.0) / f["radius_m"], 0.0, 5.0),
        ~np.isnan(f["stop_offset_m"]),
        np.log(np.maximum(f["window_s"], 60.0) / 3600.0),
        np.log1p(np.nan_to_num(f["home_distance_m"], nan=20_000.0) / 1000.0),
        np.log1p(f["days_passing"]), np.log1p(f["days_stopped"]), np.log1p(f["routine_days"]),
        source == "LBS", source == "WIFI",
        np.log1p(np.nan_to_num(f["accuracy_at_closest_m"], nan=config.default_accuracy_m)),
        np.log1p(f["max_gap_s"] / 60.0),
        default_scores(table, config) / 100.0,
    ]
    return np.column_stack([np.asarray(c, dtype=float) for c in columns])


@dataclass(frozen=True)
class FitReport:
    """How the fitted model compares with the default on held-out (out-of-fold) reviews."""

    estimator: str
    n_reviews: int
    n_credible: int
    n_ignored: int
    folds: int
    seed: int
    fitted_roc_auc: float
    fitted_average_precision: float
    default_roc_auc: float
    default_average_precision: float
    better: bool

    def lines(self) -> list[str]:
        """The comparison for people."""
        verdict = ("the fitted model is better and will be used" if self.better else
                   "the fitted model is not better; the default model stays in use")
        return [
            f"reviews: {self.n_reviews} used ({self.n_credible} credible, {self.n_reviews - self.n_credible} "
            f"no further action), {self.n_ignored} with other outcomes left out",
            f"held-out ({self.folds}-fold, seed {self.seed}):  ROC AUC  average precision",
            f"  default model                      {self.default_roc_auc:7.3f}  {self.default_average_precision:7.3f}",
            f"  fitted ({self.estimator:<8})                {self.fitted_roc_auc:7.3f}  "
            f"{self.fitted_average_precision:7.3f}",
            verdict,
        ]


@dataclass(frozen=True)
class FittedModel:
    """A calibrated classifier with its report; ``path``/``sha256`` name the file it was loaded from or saved to."""

    estimator: Any
    report: FitReport
    config: ScoreConfig
    path: Path | None = None
    sha256: str | None = None

    def scores(self, table: pd.DataFrame) -> np.ndarray:
        """Scores 0-100: the calibrated probability that review finds the hit credible, times 100 (the default
        model's score among the inputs is taken with the settings the model was fitted with)."""
        if table.empty:
            return np.zeros(0)
        return np.round(100.0 * self.estimator.predict_proba(model_matrix(table, self.config))[:, 1], 1)

    def describe(self) -> dict[str, Any]:
        return {"path": None if self.path is None else str(self.path), "sha256": self.sha256,
                "format": FORMAT, "report": asdict(self.report)}

    def save(self, path: Path | str) -> "FittedModel":
        """Write the model file (joblib); return the model with its path and SHA-256."""
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"format": FORMAT, "estimator": self.estimator, "report": asdict(self.report),
                     "config": json.dumps(asdict(self.config), sort_keys=True)}, path)
        return FittedModel(self.estimator, self.report, self.config, path, sha256_file(path))


def load_model(path: Path | str) -> FittedModel:
    """Read a model file written by :meth:`FittedModel.save`."""
    import pickle

    import joblib

    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(2)
    except OSError as error:
        raise InputError(f"the score model could not be read ({type(error).__name__}: {error})",
                         file=str(path)) from error
    if len(head) < 2 or head[0] != pickle.PROTO[0] or head[1] < 2:
        raise InputError(f"not a geomatch score model ({FORMAT}): it does not start as a model file that "
                         "geomatch writes (a pickle, protocol 2 or later)", file=str(path))
    try:
        data = joblib.load(path)
    except Exception as error:  # unpickling a damaged file can raise anything, MemoryError included
        raise InputError(f"the score model could not be read ({type(error).__name__}: {error})",
                         file=str(path)) from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"not a geomatch score model ({FORMAT})", file=str(path))
    config = ScoreConfig.from_mapping(json.loads(data["config"]), source=str(path))
    return FittedModel(data["estimator"], FitReport(**data["report"]), config, path, sha256_file(path))


def _estimator(kind: Estimator, seed: int):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        base = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    elif kind == "boosting":
        base = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, random_state=seed)
    else:
        raise InputError(f"unknown estimator '{kind}' (logistic or boosting)")
    return CalibratedClassifierCV(base, method="sigmoid", cv=3)


def fit_model(reviewed: pd.DataFrame, config: ScoreConfig | None = None, *, estimator: Estimator = "logistic",
              seed: int = 0, max_folds: int = 5) -> FittedModel:
    """Fit a calibrated model on reviewed hits and compare it with the default model on held-out reviews.

    Args:
        reviewed: one row per reviewed hit with its ``outcome`` (latest review), the :data:`HIT_INPUTS` and the
            :data:`FEATURES` (a scored hits table joined with outcomes).
        config: the scoring settings (the default model's points are one input).
        estimator: ``logistic`` (logistic regression) or ``boosting`` (histogram gradient boosting).
        seed: seeds the folds and the boosting.
        max_folds: at most this many folds (fewer when a class has fewer reviews).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    config = config or ScoreConfig()
    missing = [c for c in ("outcome", *HIT_INPUTS, *FEATURES) if c not in reviewed.columns]
    if missing:
        raise InputError(f"the reviewed hits have no '{missing[0]}' column (score the hits before fitting)",
                         column=missing[0])
    y_all = labels(reviewed["outcome"])
    usable = y_all.notna().to_numpy()
    table = reviewed.loc[usable].sort_values("hit_id", kind="stable") if "hit_id" in reviewed else reviewed.loc[usable]
    y = labels(table["outcome"]).to_numpy(dtype=int)
    n_credible = int(y.sum())
    if len(y) < MIN_REVIEWS or min(n_credible, len(y) - n_credible) < MIN_PER_CLASS:
        raise InputError(f"too few reviewed hits to fit a model: {len(y)} usable ({n_credible} credible, "
                         f"{len(y) - n_credible} no further action); need {MIN_REVIEWS} with {MIN_PER_CLASS} of each")
    X = model_matrix(table, config)
    folds = min(max_folds, n_credible, len(y) - n_credible)
    held_out = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        held_out[test] = _estimator(estimator, seed).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
    default = default_scores(table, config)
    report = FitReport(
        estimator=estimator, n_reviews=len(y), n_credible=n_credible, n_ignored=int((~usable).sum()), folds=folds,
        seed=seed, fitted_roc_auc=float(roc_auc_score(y, held_out)),
        fitted_average_precision=float(average_precision_score(y, held_out)),
        default_roc_auc=float(roc_auc_score(y, default)),
        default_average_precision=float(average_precision_score(y, default)), better=False)
    better = (report.fitted_roc_auc >= report.default_roc_auc + MIN_AUC_GAIN
              and report.fitted_average_precision >= report.default_average_precision - 1e-9)
    final = _estimator(estimator, seed).fit(X, y)
    return FittedModel(final, FitReport(**{**asdict(report), "better": bool(better)}), config)


def default_model_path(db_url: str | None) -> Path | None:
    """Where a model fitted on a store's reviews lives by default: next to a SQLite file
    (``geomatch.db`` -> ``geomatch.score_model.joblib``); None for other databases."""
    import sqlalchemy as sa

    from geomatch.store.engine import resolve_db_url

    url = sa.make_url(resolve_db_url(db_url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    db_file = Path(url.database)
    return db_file.with_name(db_file.stem + ".score_model.joblib")
