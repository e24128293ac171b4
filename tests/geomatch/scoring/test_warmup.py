"""The warm-up that ``make`` runs after installing and every run starts on a thread: validation, quality, matching
and scoring of four fixes, without error (its match gives the one observed hit the scorer warms up on), and with
the kernel signatures a real run needs (numba compiles a kernel again for each new combination of argument types:
a fresh clone's first demo run spent 4 s compiling three scoring kernels the warm-up had not met)."""
from __future__ import annotations

import importlib
from pathlib import Path

import numba
import pandas as pd
import pytest

from geomatch.match.warmup import warm_up_match
from geomatch.pipeline import MatchInputs, run_match
from geomatch.scoring.warmup import warm_up

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"
KERNEL_MODULES = ("geomatch.core._lattice", "geomatch.ingest._fix_rules", "geomatch.match._kernels",
                  "geomatch.quality.flags", "geomatch.scoring._kernels")


def test_the_warm_up_match_gives_one_observed_hit_to_score():
    hits, fixes, crimes, _ = warm_up_match()
    assert list(hits["presence"]) == ["observed"] and len(fixes) == 4 and len(crimes) == 1


def test_warm_up_scores_without_error():
    assert warm_up() > 0


def _kernels() -> dict[str, numba.core.registry.CPUDispatcher]:
    found = {}
    for name in KERNEL_MODULES:
        module = importlib.import_module(name)
        found.update({f"{name}.{attr}": value for attr, value in vars(module).items()
                      if isinstance(value, numba.core.registry.CPUDispatcher)})
    return found


@pytest.fixture(params=["sample week", "252 subjects", "GPS only, CSV"])
def trails_file(request, tmp_path) -> Path:
    """The sample week's trails as shipped (36 subjects); with each subject's days as subjects of their own (252:
    pandas then numbers them with int16 codes, not int8); or only their good GPS fixes, as CSV (a trail without
    fallback fixes reaches scoring as views of the frame's columns, not as copies)."""
    if request.param == "sample week":
        return SAMPLE / "trails.parquet"
    trails = pd.read_parquet(SAMPLE / "trails.parquet")
    if request.param == "252 subjects":
        trails["subject_id"] = trails["subject_id"].astype(str) + "-" + trails["timestamp"].dt.strftime("%d")
        assert trails["subject_id"].nunique() > 127
        trails.to_parquet(tmp_path / "trails.parquet")
        return tmp_path / "trails.parquet"
    trails[(trails["source"] == "GPS") & (trails["accuracy_m"] < 50)].to_csv(tmp_path / "trails.csv", index=False)
    return tmp_path / "trails.csv"


def test_a_run_needs_no_kernel_signature_the_warm_up_did_not_make(trails_file, tmp_path):
    kernels = _kernels()
    assert len(kernels) > 30
    warm_up()
    warmed = {name: set(kernel.signatures) for name, kernel in kernels.items()}
    run_match(MatchInputs(trails=trails_file, crimes=SAMPLE / "crimes.csv"), tmp_path / "out")
    new = {name: [s for s in kernel.signatures if s not in warmed[name]] for name, kernel in kernels.items()}
    assert {name: signatures for name, signatures in new.items() if signatures} == {}
