"""Benchmarks of a deployed environment (`make bench`); results go to benchmarks/results/."""
