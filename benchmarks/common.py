"""Helpers shared by the benchmarks: timing, and a command line run in a fresh process with its peak memory."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(os.environ.get("GEOMATCH_BENCH_DIR", "bench_out"))
_PEAK = re.compile(r"^PEAK_RSS_KB (\d+)$", re.M)


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: wall time (s), its own peak resident memory (MiB) and what it printed."""

    seconds: float
    peak_rss_mb: float
    output: str


def run_cli(command: str, args: list[str]) -> ChildRun:
    """Run ``geomatch`` or ``vvol`` with ``args`` in a fresh Python process and measure it."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "benchmarks.peak", command, *args], capture_output=True,
                          text=True, check=True)
    seconds = time.perf_counter() - started
    peak = _PEAK.search(done.stdout)
    return ChildRun(seconds, int(peak.group(1)) / 1024.0 if peak else float("nan"), done.stdout + done.stderr)


@contextmanager
def timed(results: dict, name: str):
    """Store the wall time (s) of the block in ``results[name]``."""
    started = time.perf_counter()
    yield
    results[name] = time.perf_counter() - started
