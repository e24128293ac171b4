"""The store's tests run on a fresh SQLite file and on a new PostgreSQL database (skipped, saying why, when the
PostgreSQL server binaries are not installed)."""
from __future__ import annotations

import pytest

from tests.pgserver import store_url, why_no_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "postgresql" and why_no_postgres():
        pytest.skip(why_no_postgres())
    return store_url(request.param, tmp_path)
