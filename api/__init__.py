"""The thin HTTP layer: validates requests, calls workflows, maps refusals to problem+json."""
