"""Helpers shared by the benchmarks: timing, and a command line run in a fresh process with its peak memory."""
from __future__ import annotations

import os
import re
import resource
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
    """A finished child process: wall time (s), its own peak resident memory (MiB), what it printed, and the CPU
    time (user + system, s) it and its own children used."""

    seconds: float
    peak_rss_mb: float
    output: str
    cpu_seconds: float = float("nan")


def run_cli(command: str, args: list[str]) -> ChildRun:
    """Run ``geomatch`` or ``vvol`` with ``args`` in a fresh Python process and measure it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "benchmarks.peak", command, *args], capture_output=True,
                          text=True, check=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peak = _PEAK.search(done.stdout)
    return ChildRun(seconds, int(peak.group(1)) / 1024.0 if peak else float("nan"), done.stdout + done.stderr, cpu)


@contextmanager
def timed(results: dict, name: str):
    """Store the wall time (s) of the block in ``results[name]`` (and its CPU time, every thread of this process,
    in ``results[name + "_cpu"]``)."""
    started, cpu = time.perf_counter(), time.process_time()
    yield
    results[name] = time.perf_counter() - started
    results[f"{name}_cpu"] = time.process_time() - cpu
