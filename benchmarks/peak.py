"""Run a command of ``cli.py`` in this process and print its peak resident memory: ``PEAK_RSS_KB n``."""
from __future__ import annotations

import resource
import sys

import cli

if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    try:
        getattr(cli, command).main(args=args, prog_name=command, standalone_mode=False)
    finally:
        print(f"PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)
