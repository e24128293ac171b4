"""How a command that reads millions of rows allocates its memory (on Linux, where it matters most)."""
from __future__ import annotations


def use_lean_memory() -> None:
    """Allocate large arrays the way that costs least system time, for this process.

    A run allocates several GB of fresh arrays over its life, and on the 2-core virtual machines we measure on the
    kernel's side of that dominated: numpy's huge-page advice (each first touch zeroes 2 MiB at once and may stall
    while the kernel compacts memory) cost the force-month run 1.5-2.5 s of system CPU, and Arrow's default
    mimalloc pool, which commits its arenas eagerly, 2-4 s of system CPU on one plain ``pyarrow.csv.read_csv`` of
    the force-month CSV (1.7 s wall with the system allocator, 2.8-4.0 s with mimalloc). So numpy's huge-page
    advice is switched off (numpy's own switch, private in numpy 2: the environment variable
    ``NUMPY_MADVISE_HUGEPAGE=0`` does the same at import; where a numpy lacks it, nothing changes) and Arrow
    allocates from the system allocator, as numpy does. (Arrow's jemalloc pool was as fast but keeps freed pages
    for a while: the 1 s week's run peaked at 1,950-2,190 MiB with it, 1,790 MiB with the system allocator.)
    The commands that read trails (``match``, ``partition``, ``evidence``, ``score``) call this first, and the
    Dask engine in the workers of a local cluster it starts."""
    import numpy as np
    import pyarrow as pa

    switch = getattr(getattr(np, "_core", None), "multiarray", None)
    if hasattr(switch, "_set_madvise_hugepage"):
        switch._set_madvise_hugepage(False)
    pa.set_memory_pool(pa.system_memory_pool())
