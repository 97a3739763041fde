"""`pip install ./python` gives an importable, typed package: built from a copy of the source (so that the tree gets
no build files), offline, into a virtual environment that sees Debian's packages, imported from elsewhere."""
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def test_pip_installs_the_package_with_its_models_and_type_marker(tmp_path):
    source = tmp_path / "python"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    # No PyPI here: setuptools comes from Debian (python3-setuptools), hence no build isolation.
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index", "--no-deps", str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.metadata as m, pathlib, mordomo_db, mordomo_db.models as models;"
         "print(m.version('mordomo-db'), pathlib.Path(mordomo_db.__file__).parent.joinpath('py.typed').exists(),"
         " len(models.Base.metadata.tables), pathlib.Path(mordomo_db.__file__).is_relative_to(pathlib.Path(sys.prefix)))".replace(
             "sys.prefix", repr(str(venv))
         )],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["0.1.0", "True", "16", "True"]
