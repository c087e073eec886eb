"""How often Python's cyclic garbage collector runs in the GUI process.

A full (generation 2) collection walks every object the process holds, holding the GIL: while a worker
builds an import preview of 20,000 students (a million objects and more) the default thresholds run one
every few hundred milliseconds, each 120-270 ms long on a two-core machine, and the GUI thread cannot run
a line of Python meanwhile. Measured on a 20,000-student sandbox (a 10 ms timer on the GUI thread, as in
tests/ui/test_gui_stall.py): the longest pause of the event loop while an import preview was built went from
120-270 ms (six full collections, each freeing nothing) to 50-70 ms with the thresholds below, a scan's from
120-150 ms to ~12 ms. The objects a worker builds are mostly long-lived results without reference cycles,
which reference counting frees anyway; collecting young objects less often and old ones rarely costs some
memory held by cyclic garbage a little longer, not correctness.
"""

from __future__ import annotations

import gc

#: generation 0 every 50,000 net allocations (default 700); generation 1 every 20 of those, and a full
#: collection considered every 100 generation-1 collections (Python then still waits for 25% growth).
GUI_THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collection() -> tuple[int, int, int]:
    """Use GUI_THRESHOLDS; returns the thresholds that were in use (to restore them, e.g. in tests)."""
    previous = gc.get_threshold()
    gc.set_threshold(*GUI_THRESHOLDS)
    return previous
