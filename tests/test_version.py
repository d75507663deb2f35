"""One version, written once (npnet/__init__.py): ``npnet.__version__``, ``npnet --version`` and the
installed package's metadata agree, and the metadata declares the Python and NumPy versions the README
names."""
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import npnet

ROOT = Path(__file__).resolve().parents[1]


def installed():
    """npnet's metadata as pip installed it, not a stale ``npnet.egg-info`` that a build left in the
    checkout (which shadows it when the checkout is the current folder)."""
    elsewhere = [p for p in sys.path if Path(p or ".").resolve() != ROOT]
    return next(importlib.metadata.distributions(name="npnet", path=elsewhere)).metadata


def test_cli_module_and_metadata_report_one_version():
    out = subprocess.run([sys.executable, "-m", "npnet", "--version"], capture_output=True, text=True,
                         check=True).stdout
    assert re.fullmatch(r"\d+\.\d+\.\d+", npnet.__version__)
    # a mismatch with the metadata means the install is stale: pip install -e ".[test]" again
    assert out == f"npnet {npnet.__version__}\n" and installed()["Version"] == npnet.__version__


def test_setup_reads_the_version_from_the_package_without_importing_it():
    # setup.py runs where npnet's dependencies may be missing: it must read the line, not import npnet
    setup_py = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert "version=_version()" in setup_py and "import npnet" not in setup_py
    namespace = {"__file__": str(ROOT / "setup.py"), "__name__": "not_main"}
    exec(compile(setup_py.split("\nsetup(")[0], "setup.py", "exec"), namespace)  # everything up to setup()
    assert namespace["_version"]() == npnet.__version__


def test_supported_python_and_numpy_are_declared_and_documented():
    meta = installed()
    python = meta["Requires-Python"]
    numpy = next(r for r in meta.get_all("Requires-Dist") if re.match(r"numpy\b", r))
    minors = [c.rsplit(" ", 1)[1] for c in meta.get_all("Classifier") if re.fullmatch(r".*Python :: 3\.\d+", c)]
    assert python == ">=3.10" and minors == ["3.10", "3.11", "3.12", "3.13"]
    assert numpy.replace(" ", "") in ("numpy>=1.24,<3", "numpy<3,>=1.24")
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in minors  # the running Python is one of them
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Python 3.10 to 3.13" in readme and "NumPy 1.24 or later (below 3)" in readme
