"""Run a command of ``cli.py`` in this process and print its peak resident memory, ``PEAK_RSS_KB n``, and when
the command began, ``COMMAND_STARTED epoch_s cpu_s`` (what the start-up and imports took is the time before).

On Linux the figure is ``VmHWM`` of ``/proc/self/status``, the high-water mark of this process's own memory
since it started; ``getrusage``'s ``ru_maxrss`` is kept across ``fork`` and ``exec``, so it would report the
benchmark's own peak whenever that was higher. Elsewhere ``ru_maxrss`` is the figure.
"""
from __future__ import annotations

import re
import resource
import sys
import time
from pathlib import Path

import cli


def peak_rss_kb() -> int:
    """This process's peak resident memory (KiB)."""
    status = Path("/proc/self/status")
    if status.is_file():
        found = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.M)
        if found:
            return int(found.group(1))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    # when the command itself began (after the interpreter's start and the imports): epoch s, CPU s so far
    print(f"COMMAND_STARTED {time.time():.3f} {time.process_time():.3f}", flush=True)
    try:
        getattr(cli, command).main(args=args, prog_name=command, standalone_mode=False)
    finally:
        print(f"PEAK_RSS_KB {peak_rss_kb()}", flush=True)
