"""Infrastructure shared by the worker, the API and the tests: settings, Temporal client, keys."""
