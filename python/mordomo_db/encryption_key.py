"""The IVR encryption key, read as the TypeScript service reads it (src/config.ts): MORDOMO_ENCRYPTION_KEY, else the
file named by MORDOMO_ENCRYPTION_KEY_FILE, which only its owner may read. Same rules, same messages."""
import os
import stat
from typing import Mapping, Optional

from .errors import NO_KEY, ConfigError

MINIMUM_LENGTH = 16


def encryption_key(env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The key from ``env`` (default ``os.environ``), or None when neither variable is set. An exported but empty
    variable counts as not set, as in src/config.ts."""
    variables = os.environ if env is None else env
    key = variables.get("MORDOMO_ENCRYPTION_KEY") or None
    if key is not None:
        if len(key) < MINIMUM_LENGTH:
            raise ConfigError("invalid configuration: MORDOMO_ENCRYPTION_KEY: must be at least 16 characters")
        return key
    file = variables.get("MORDOMO_ENCRYPTION_KEY_FILE") or None
    return read_key_file(file) if file is not None else None


def require_encryption_key(env: Optional[Mapping[str, str]] = None) -> str:
    """The key, or ConfigError saying how to give one: for code that reads or writes provider configs."""
    key = encryption_key(env)
    if key is None:
        raise ConfigError(NO_KEY)
    return key


def read_key_file(file: str) -> str:
    """The key in ``file``, refused when anyone but its owner may read it: a key readable by others is as good as
    published. Surrounding whitespace (the newline an editor adds) is not part of the key."""
    try:
        mode = stat.S_IMODE(os.stat(file).st_mode)
    except OSError:
        raise ConfigError(f"the key file {file} cannot be read") from None
    if mode & 0o077:
        raise ConfigError(f'the key file {file} is readable by others (mode {mode:o}): run "chmod 600 {file}"')
    try:
        with open(file, encoding="utf-8") as handle:
            key = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"the key file {file} cannot be read") from None
    if len(key) < MINIMUM_LENGTH:
        raise ConfigError(f"the key in {file} must be at least 16 characters")
    return key
