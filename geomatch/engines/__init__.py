"""Ways to run matching other than in one process: a partitioned trails dataset and a Dask engine over it.

* :mod:`geomatch.engines.dataset` writes and lists hive-partitioned Parquet trails (by day and/or subject).
* :mod:`geomatch.engines.plan` decides which partitions each matching task reads and which crimes it owns, so
  that the combined hits equal the single-process engine's exactly.
* :mod:`geomatch.engines.dask_engine` runs validation and matching on a Dask cluster.
"""
