"""The IVR engine's asyncpg pool, with seed 004's settings (services/database.py)."""
from types import MappingProxyType
from typing import Any, Mapping

SEED_POOL_SETTINGS: Mapping[str, Any] = MappingProxyType({
    "min_size": 5,
    "max_size": 20,
    # Seconds a statement may run before asyncpg cancels it (the service's statement timeout is 30 s as well).
    "command_timeout": 30,
    # Seconds an idle connection is kept before it is closed, so a quiet engine gives its backends back.
    "max_inactive_connection_lifetime": 300,
})


async def create_pool(dsn: str, **overrides: Any) -> Any:
    """An asyncpg pool on ``dsn`` with the seed's settings (``overrides`` win). Give the runtime role's URL
    (``mordomo_app``), as the TypeScript service connects; libpq's ``sslmode`` in the URL is honoured by asyncpg.

        pool = await create_pool("postgresql://mordomo_app:…@db:5432/fusionpbx?sslmode=require")
    """
    import asyncpg  # here, not at the top: asyncpg is an optional dependency (the "asyncpg" extra)

    return await asyncpg.create_pool(dsn, **{**SEED_POOL_SETTINGS, **overrides})
