"""Fixtures for the V-VOL tests."""
from __future__ import annotations

import pandas as pd
import pytest

from vvol.config import VvolConfig
from vvol.pipeline import run


@pytest.fixture
def score(tmp_path):
    """``score(crimes, people, as_of, **config)`` -> Tasking, through real files."""
    def _score(crimes: list[dict], people: list[dict], as_of: str, area: str | None = None, **config):
        crimes_path, people_path = tmp_path / "crimes.csv", tmp_path / "people.csv"
        pd.DataFrame(crimes).to_csv(crimes_path, index=False)
        pd.DataFrame(people, columns=["crime_ref", "person_id", "role", "vulnerable"]).to_csv(people_path,
                                                                                            index=False)
        return run(crimes_path, people_path, as_of, VvolConfig(**config), area=area)
    return _score
