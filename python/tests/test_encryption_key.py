"""The key is read as src/config.ts reads it: MORDOMO_ENCRYPTION_KEY first, else a key file only its owner can read."""
import os

import pytest

from mordomo_db.encryption_key import encryption_key, require_encryption_key
from mordomo_db.errors import ConfigError

KEY = "a-key-of-at-least-16-characters"


def _key_file(tmp_path, content, mode):
    path = tmp_path / "ivr.key"
    path.write_text(content)
    os.chmod(path, mode)
    return str(path)


def test_the_key_comes_from_the_environment_before_the_file(tmp_path):
    file = _key_file(tmp_path, "the-file-key-0123456789\n", 0o600)
    assert encryption_key({"MORDOMO_ENCRYPTION_KEY": KEY, "MORDOMO_ENCRYPTION_KEY_FILE": file}) == KEY
    assert encryption_key({"MORDOMO_ENCRYPTION_KEY": "", "MORDOMO_ENCRYPTION_KEY_FILE": file}) == "the-file-key-0123456789"


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_key_file_only_its_owner_can_read_is_read_without_its_newline(tmp_path, mode):
    assert encryption_key({"MORDOMO_ENCRYPTION_KEY_FILE": _key_file(tmp_path, f"  {KEY}\n", mode)}) == KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_others_may_read_or_write_is_refused_with_the_chmod_to_run(tmp_path, mode):
    file = _key_file(tmp_path, KEY, mode)
    with pytest.raises(ConfigError) as raised:
        encryption_key({"MORDOMO_ENCRYPTION_KEY_FILE": file})
    assert str(raised.value) == f'the key file {file} is readable by others (mode {mode:o}): run "chmod 600 {file}"'


def test_a_missing_key_file_and_short_keys_are_refused_with_src_config_ts_messages(tmp_path):
    missing = str(tmp_path / "nowhere.key")
    with pytest.raises(ConfigError, match=f"^the key file {missing} cannot be read$"):
        encryption_key({"MORDOMO_ENCRYPTION_KEY_FILE": missing})
    short = _key_file(tmp_path, "short\n", 0o600)
    with pytest.raises(ConfigError, match=f"^the key in {short} must be at least 16 characters$"):
        encryption_key({"MORDOMO_ENCRYPTION_KEY_FILE": short})
    with pytest.raises(ConfigError, match="^invalid configuration: MORDOMO_ENCRYPTION_KEY: must be at least 16 characters$"):
        encryption_key({"MORDOMO_ENCRYPTION_KEY": "short"})


def test_no_key_is_none_and_require_says_which_variables_to_set():
    assert encryption_key({}) is None
    with pytest.raises(ConfigError) as raised:
        require_encryption_key({"MORDOMO_ENCRYPTION_KEY": ""})
    assert str(raised.value) == (
        "no encryption key: set MORDOMO_ENCRYPTION_KEY or MORDOMO_ENCRYPTION_KEY_FILE to read or write provider configs"
    )
    assert require_encryption_key({"MORDOMO_ENCRYPTION_KEY": KEY}) == KEY


def test_the_process_environment_is_the_default(monkeypatch):
    monkeypatch.setenv("MORDOMO_ENCRYPTION_KEY", KEY)
    assert encryption_key() == KEY
