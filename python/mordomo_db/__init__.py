"""mordomo-db for Python services: SQLAlchemy models of the migrated schema, the IVR's tenant context for asyncpg and
SQLAlchemy, seed 004's queries, and the key read as the TypeScript service reads it. See docs/python.md."""
from .encryption_key import encryption_key, require_encryption_key
from .engine import ivr_engine
from .errors import ConfigError, KeyNotCurrentError, MordomoDbError
from .history import user_history
from .ivr_queries import conversation_history, provider_config, secretary_by_extension
from .pool import SEED_POOL_SETTINGS, create_pool
from .provider_configs import encrypt_config, encrypt_config_in_session
from .reminders import claim_due_reminders
from .schema_check import NOT_MODELLED, differences
from .tenant import IVR_ROLE, domain_session, domain_transaction

__all__ = [
    "ConfigError",
    "IVR_ROLE",
    "KeyNotCurrentError",
    "MordomoDbError",
    "NOT_MODELLED",
    "SEED_POOL_SETTINGS",
    "claim_due_reminders",
    "conversation_history",
    "create_pool",
    "differences",
    "domain_session",
    "domain_transaction",
    "encrypt_config",
    "encrypt_config_in_session",
    "encryption_key",
    "ivr_engine",
    "provider_config",
    "require_encryption_key",
    "secretary_by_extension",
    "user_history",
]
