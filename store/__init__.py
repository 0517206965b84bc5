"""The service's own state in one database (SQLite embedded, PostgreSQL in deployments).

``store.db`` builds the one AsyncEngine of a process, ``store.schema`` holds the tables,
``store.migrate`` runs the Alembic migrations; the other modules are the repositories."""
