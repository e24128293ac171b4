"""The fitted model: trained on synthetic reviewed outcomes, compared with the default on held-out reviews, saved,
loaded, used only when better; from files and from the review store, and through the command line."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from geomatch.core.errors import InputError
from geomatch.scoring import FEATURES, Scorer, default_model_path, default_scores, fit_model, load_model
from geomatch.scoring.fit import labels
from geomatch.scoring.model import HIT_INPUTS
from geomatch.scoring.reviews import read_outcomes, reviewed_hits


def synthetic_reviews(n: int = 160, seed: int = 3, signal: str = "stop") -> pd.DataFrame:
    """Scored-looking hits with outcomes. With ``signal="stop"`` credibility follows the stop and the routine
    (as the default model assumes); with ``signal="night"`` it follows only a late window end, which the
    default model ignores, so a fitted model can beat it."""
    rng = np.random.default_rng(seed)
    stop_s = rng.choice([0.0, 60.0, 300.0, 900.0, 1800.0], n)
    days_passing = rng.integers(0, 6, n)
    window_s = rng.choice([1800.0, 7200.0, 36000.0], n)
    frame = pd.DataFrame({
        "hit_id": [f"H{i:04d}" for i in range(n)], "subject_id": [f"S{i % 17:02d}" for i in range(n)],
        "crime_ref": [f"C{i:04d}" for i in range(n)], "offence": "burglary_residential",
        "presence": rng.choice(["observed", "interpolated", "possible"], n, p=[0.5, 0.2, 0.3]),
        "min_distance_m": rng.uniform(0, 100, n), "radius_m": 100.0, "accuracy_at_closest_m": rng.uniform(3, 30, n),
        "source_at_closest": rng.choice(["GPS", "LBS"], n, p=[0.9, 0.1]), "max_gap_s": rng.uniform(60, 3600, n),
        "approach_ratio": rng.uniform(0, 10, n), "stop_s": stop_s, "speed_near_mps": rng.uniform(0, 15, n),
        "stop_offset_m": rng.uniform(0, 60, n), "window_s": window_s,
        "home_distance_m": rng.uniform(10, 5000, n), "home_nights": 5, "days_passing": days_passing,
        "days_stopped": rng.integers(0, 3, n), "routine_days": 20,
    })
    if signal == "stop":
        logit = (stop_s / 300.0) - 1.5 * days_passing - 1.0 + rng.normal(0, 0.7, n)
    else:  # late-night hits credible
        frame["late"] = rng.random(n) < 0.3
        frame["max_gap_s"] = np.where(frame["late"], 4000.0, 100.0)  # the model may learn from the gap
        logit = np.where(frame["late"], 2.0, -2.0) + rng.normal(0, 0.5, n)
        frame = frame.drop(columns="late")
    frame["outcome"] = np.where(logit > 0, rng.choice(["arrest", "charge", "investigation"], n), "no_further_action")
    frame.loc[frame.index % 23 == 0, "outcome"] = "already_known"  # says neither: left out
    return frame


def test_outcomes_map_to_credible_or_not():
    got = labels(pd.Series(["arrest", "charge", "caution", "investigation", "no_further_action", "recall"]))
    assert got.tolist()[:5] == [1.0, 1.0, 1.0, 1.0, 0.0] and np.isnan(got.iloc[5])


def test_fit_reports_both_models_on_held_out_reviews():
    reviewed = synthetic_reviews(signal="night")
    model = fit_model(reviewed, seed=0)
    report = model.report
    assert report.n_ignored == int((reviewed["outcome"] == "already_known").sum())
    assert report.n_reviews == len(reviewed) - report.n_ignored and report.folds == 5
    assert report.fitted_roc_auc > 0.9 > report.default_roc_auc
    assert report.better
    again = fit_model(reviewed, seed=0)
    assert again.report == report  # deterministic
    assert "the fitted model is better and will be used" in "\n".join(report.lines())


def test_a_fitted_model_that_is_not_better_is_not_used():
    reviewed = synthetic_reviews(n=160, signal="stop")
    # reviewers who agree exactly with the default model: nothing can beat it
    credible = default_scores(reviewed) > np.median(default_scores(reviewed))
    reviewed["outcome"] = np.where(credible, "arrest", "no_further_action")
    model = fit_model(reviewed, seed=0)
    assert model.report.default_roc_auc == pytest.approx(1.0) and not model.report.better
    scorer = Scorer(model=model)
    assert not scorer.uses_fitted and scorer.describe()["model"] == "default"
    assert "not_used" in scorer.describe()["fitted_model"]
    assert "the default model stays in use" in "\n".join(model.report.lines())


def test_save_load_and_score_with_the_fitted_model(tmp_path):
    reviewed = synthetic_reviews(signal="night")
    saved = fit_model(reviewed, seed=0).save(tmp_path / "model.joblib")
    loaded = load_model(tmp_path / "model.joblib")
    assert loaded.sha256 == saved.sha256 and loaded.report == saved.report
    table = reviewed.drop(columns="outcome")
    first, second = saved.scores(table), loaded.scores(table)
    np.testing.assert_array_equal(first, second)
    assert ((first >= 0) & (first <= 100)).all()
    described = Scorer(model=loaded).describe()
    assert described["model"] == "fitted" and described["fitted_model"]["sha256"] == saved.sha256


def test_not_a_model_file(tmp_path):
    import joblib

    joblib.dump({"something": "else"}, tmp_path / "x.joblib")
    with pytest.raises(InputError, match="not a geomatch score model"):
        load_model(tmp_path / "x.joblib")


def test_too_few_reviews_and_missing_features():
    reviewed = synthetic_reviews(n=15)
    with pytest.raises(InputError, match="too few reviewed hits"):
        fit_model(reviewed)
    with pytest.raises(InputError, match="stop_s"):
        fit_model(synthetic_reviews().drop(columns="stop_s"))


def test_default_model_path_next_to_a_sqlite_store(tmp_path):
    assert default_model_path(f"sqlite:///{tmp_path}/reviews.db") == tmp_path / "reviews.score_model.joblib"
    assert default_model_path("postgresql+psycopg://user@host/db") is None


def test_fit_from_files_through_the_command_line(tmp_path):
    reviewed = synthetic_reviews(signal="night")
    reviewed.drop(columns="outcome").to_parquet(tmp_path / "hits.parquet")
    reviewed[["hit_id", "outcome"]].to_csv(tmp_path / "outcomes.csv", index=False)
    assert len(read_outcomes(tmp_path / "outcomes.csv")) == len(reviewed)
    result = CliRunner().invoke(cli.geomatch, [
        "score", "fit", "--outcomes", str(tmp_path / "outcomes.csv"), "--hits", str(tmp_path / "hits.parquet"),
        "--model-out", str(tmp_path / "m.joblib")])
    assert result.exit_code == 0, result.output
    assert "ROC AUC" in result.output and "model written to" in result.output
    assert load_model(tmp_path / "m.joblib").report.better


def test_fit_from_the_review_store(tmp_path):
    from geomatch.store import add_review, record_run

    reviewed = synthetic_reviews(n=60, signal="night")
    hits = reviewed.drop(columns="outcome")
    crimes = pd.DataFrame({"crime_ref": hits["crime_ref"], "offence": hits["offence"]})
    url = f"sqlite:///{tmp_path}/reviews.db"
    record_run(url, hits, crimes)
    for row in reviewed.itertuples(index=False):
        add_review(url, row.hit_id, outcome=row.outcome, by="PC 1234")
    from_store = reviewed_hits(url)
    assert len(from_store) == len(reviewed) and set(FEATURES) <= set(from_store.columns)
    result = CliRunner().invoke(cli.geomatch, ["score", "fit", "--db", url])
    assert result.exit_code == 0, result.output
    model = load_model(tmp_path / "reviews.score_model.joblib")
    assert model.report.n_reviews == int(labels(reviewed["outcome"]).notna().sum())


def test_outcomes_need_hits():
    result = CliRunner().invoke(cli.geomatch, ["score", "fit", "--outcomes", "x.csv"])
    assert result.exit_code == 2 and "--outcomes needs --hits" in result.output


def test_inputs_of_the_model_are_the_documented_columns():
    table = synthetic_reviews(n=30)
    assert set(HIT_INPUTS) | set(FEATURES) <= set(table.columns)
    assert default_scores(table).shape == (30,)
    assert json.dumps(Scorer().describe())  # the manifest record is plain JSON


def test_a_better_fitted_model_scores_the_hits_and_says_so():
    from geomatch.match.matcher import match_hits
    from tests.geomatch.scoring.test_scoring import CONFIG, commuter, crimes_frame, day_of, trails_frame

    trails = trails_frame([row for day in range(3) for row in day_of("A", day, commuter)])
    crimes = crimes_frame([("C1", 1000.0, 20.0, 1, 8 * 60, 8 * 60 + 30)])
    hits = match_hits(trails, crimes, CONFIG)
    model = fit_model(synthetic_reviews(signal="night"), seed=0)
    scored = Scorer(model=model).score(hits, trails, crimes, CONFIG)
    default = Scorer().score(hits, trails, crimes, CONFIG)
    assert scored["score"].tolist() == model.scores(default).tolist()
    assert scored["reasons"].iloc[0] == default["reasons"].iloc[0] + "; score from the model fitted on " \
        f"{model.report.n_reviews} reviews"
    assert Scorer(model=model).describe()["model"] == "fitted"
