"""The wiring of the service: the Temporal client (data converter, interceptors) and the workers
with their activities, built from the settings for the API, the worker, scripts and tests."""
