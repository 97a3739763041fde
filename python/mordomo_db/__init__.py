"""mordomo-db for Python services: models, tenant context, seed queries (see docs/python.md)."""
