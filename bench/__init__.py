"""`make bench`: the service against raw Temporal on the same embedded stack (see docs/benchmarks.md)."""
