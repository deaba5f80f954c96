"""The repository layout must not shadow the standard library (DESIGN.md, "Layout")."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STDLIB_NAMES = ("platform", "types", "logging", "random", "statistics", "math", "io", "json")


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_no_root_package_shadows_stdlib():
    for name in STDLIB_NAMES:
        assert not (ROOT / name / "__init__.py").exists(), f"root-level package {name}/ shadows the stdlib"
        assert not (ROOT / f"{name}.py").exists(), f"root-level module {name}.py shadows the stdlib"


def test_import_platform_is_stdlib_from_root():
    origin = _run("import platform, sysconfig; print(platform.__file__)")
    assert Path(origin).parent == Path(_run("import sysconfig; print(sysconfig.get_paths()['stdlib'])"))
    assert _run("import platform; print(callable(platform.system))") == "True"


def test_import_jax_and_sepsim_from_root():
    assert _run("import jax, sepsim, sepsim.platform, sepsim.models; print('ok')") == "ok"


def test_platform_subpackage_lives_inside_sepsim():
    assert (ROOT / "sepsim" / "platform" / "__init__.py").exists()
    assert (ROOT / "sepsim" / "models" / "__init__.py").exists()
