"""The layer rules of pyproject.toml's [tool.importlinter] hold, and bite.

``.ci/run`` runs ``lint-imports`` too; these tests show that each rule fails
on the import it exists to stop, on a copy of the package.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(cwd):
    # lint-imports finds the package on sys.path, where cwd comes first: it
    # checks the copy, not the installed skae.
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(command), "--config", "pyproject.toml", "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    copy = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        ROOT / "skae", copy / "skae", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_package_keeps_every_contract(package_copy):
    result = lint_imports(package_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, line, broken",
    [
        ("_nn/modules.py", "import sklearn", "neither scikit-learn nor skorch"),
        ("_nn/losses.py", "import skorch", "neither scikit-learn nor skorch"),
        ("_base/inference.py", "import skorch", "Only skae._net imports skorch"),
        ("_base/dense.py", "from .. import _sparse", "The base names no estimator"),
        ("_utils/runtime.py", "from .._base import base", "Layers"),
        ("_nn/modules.py", "from .._net import build", "Layers"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(package_copy, module, line, broken):
    path = package_copy / "skae" / module
    original = path.read_text()
    # At the end of the module, where it cannot be an import cycle at import
    # time: import-linter reads the source, it does not run it.
    path.write_text(f"{original}\n{line}  # noqa\n")
    try:
        result = lint_imports(package_copy)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    broken_lines = [ln for ln in result.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(broken in ln for ln in broken_lines), result.stdout
