"""Benchmarks of the workflow engine against its peers and against the raw limit."""

# The benchmarks are a composition root of their own (they run the services, the sweep and
# the dispatcher, also in child processes that import this package): wire mail in.
from notifications import wiring

wiring.install()
