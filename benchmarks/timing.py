"""The timing rule every benchmark here reports: the best wall time of `repeats` calls (the least disturbed by other
work on the machine), after an optional warm-up call (first-call allocations, lazy imports)."""

import time


def best_time(function, repeats, warmup=False):
    if warmup:
        function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best
