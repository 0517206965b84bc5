"""Thin adapters to the outside world (payments, notifications, care desk) run as activities."""
