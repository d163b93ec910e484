"""`make bench`: each module's run() measures our code next to a baseline in the same run."""
import statistics
import time


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
