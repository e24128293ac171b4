"""Dask clusters shared by the engine tests."""
from __future__ import annotations

import pytest

from geomatch.engines import dask_engine


@pytest.fixture(scope="session")
def cluster():
    """Two worker processes with one thread each, as the command line starts them (the pyproj transformer the
    loaders share is not safe to use from two threads at once)."""
    with dask_engine.local_cluster(2) as running:
        yield running.scheduler_address


@pytest.fixture()
def in_process_cluster():
    """One worker thread in this process, so that a test can patch what the tasks call."""
    with dask_engine.local_cluster(1, processes=False) as running:
        yield running.scheduler_address
