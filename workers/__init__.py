"""The queue, its jobs, the checks they run, and the reconciler."""
