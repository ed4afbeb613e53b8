"""The timing rule every benchmark here reports: the best wall time of `repeats` calls (the least disturbed by other
work on the machine), after an optional warm-up call (first-call allocations, lazy imports); and `synchronize`,
which a timer calls on either side of GPU work (CUDA kernels run asynchronously to the Python that queues them)."""

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


def synchronize(device):
    """Waits for the queued work of `device` when it is a CUDA device; nothing on a CPU."""
    if str(device).startswith("cuda"):
        import torch  # here, so that the benchmarks without torch need not import it

        torch.cuda.synchronize(device)
