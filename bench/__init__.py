"""Benchmarks (`make bench`): each ``bench_*.py`` module measures against its targets."""
