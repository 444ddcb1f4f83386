"""Benchmarks of the workflow engine against its peers and against the raw limit."""
