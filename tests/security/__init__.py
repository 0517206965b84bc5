"""Tests for issue 12: each shows an attack that worked before its fix and fails now."""
