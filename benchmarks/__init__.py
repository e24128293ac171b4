"""Benchmarks (``make bench``): each ``bench_*.py`` module has ``main(quick=False)`` and prints its figures."""
