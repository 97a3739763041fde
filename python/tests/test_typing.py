"""The package is fully annotated: Debian's mypy (1.0.1) passes over it with the strict configuration of
pyproject.toml, and the annotations are what callers are checked against."""
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def mypy(tmp_path, *targets):
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(PACKAGE / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"), *targets],
        cwd=PACKAGE, capture_output=True, text=True, timeout=300,
    )


def test_mypy_strict_passes_over_the_package(tmp_path):
    run = mypy(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("Success: no issues found in ")


def test_a_caller_passing_the_wrong_types_is_refused_by_mypy(tmp_path):
    caller = tmp_path / "caller.py"
    caller.write_text(
        "from typing import Any\n"
        "from mordomo_db import domain_session, encryption_key, user_history\n"
        "def use(session: Any) -> None:\n"
        "    domain_session(session, 42)\n"
        "    user_history(session, 'user', days='7')\n"
        "    key: int = encryption_key()\n"
    )
    run = mypy(tmp_path, str(caller))
    assert run.returncode == 1
    # Line and error code of each complaint (the wording varies between mypy versions).
    errors = [(int(line.split(":")[1]), line.rsplit("[", 1)[1].rstrip("]")) for line in run.stdout.splitlines() if ": error: " in line]
    assert errors == [(4, "arg-type"), (5, "arg-type"), (6, "assignment")]
