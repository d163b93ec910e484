"""Developer tools used by the fault tests, the chaos run and the benchmarks (not installed with the gateway)."""
