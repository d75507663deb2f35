"""The one timing rule the benchmark scripts share."""
import time

import numpy as np


def median_min_ms(fn, repeats):
    """(median, min) milliseconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), 1e3 * min(times)
