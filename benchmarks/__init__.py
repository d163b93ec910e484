"""`make bench`: each module's run() measures our code next to a baseline in the same run."""
import statistics
import time


def median_seconds(action, repeats: int, clock=time.perf_counter) -> float:
    """Median over repeats; clock=time.process_time counts CPU seconds of all threads instead of wall time."""
    times = []
    for _ in range(repeats):
        start = clock()
        action()
        times.append(clock() - start)
    return statistics.median(times)
