"""The case rules: pure Python, no Temporal, unit-tested with plain objects."""
