"""Build the stand-alone verifier ``precedent-evidence`` (wheel and sdist) from the repository's evidence_store/.

Usage: ``python packaging/precedent-evidence/build.py [--outdir DIR]`` (``make verifier``; DIR defaults to
``dist/`` at the repository root). Prints the path of each file built.

No copy of the package is kept beside this file: evidence_store/ and this folder's packaging files are
staged into a temporary folder and built there by ``python -m build`` (the PEP 517 front end of the dev
extras), which installs the build backend from PyPI into an isolated environment. Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACKAGE = ROOT / "evidence_store"
PACKAGING_FILES = ("pyproject.toml", "README.md")
DIST_NAME = "precedent_evidence"


def package_version() -> str:
    """Return ``evidence_store.__version__``, read from the source without importing it."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise SystemExit(f"no __version__ in {PACKAGE / '__init__.py'}")


def stage(folder: Path) -> Path:
    """Copy the packaging files and evidence_store/ (without bytecode) into ``folder``; return the project."""
    project = folder / "precedent-evidence"
    project.mkdir()
    for name in PACKAGING_FILES:
        shutil.copy2(HERE / name, project / name)
    shutil.copytree(
        PACKAGE, project / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]")
    )
    return project


def build(outdir: Path) -> list[Path]:
    """Build the sdist, then the wheel from it, into ``outdir``; return their paths."""
    version = package_version()
    expected = [f"{DIST_NAME}-{version}.tar.gz", f"{DIST_NAME}-{version}-py3-none-any.whl"]
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="precedent-evidence-") as tmp:
        project = stage(Path(tmp))
        built = Path(tmp) / "dist"
        # Without --sdist/--wheel, build makes the wheel from the unpacked sdist: a file missing from
        # the sdist fails here rather than for whoever rebuilds from it.
        command = [sys.executable, "-m", "build", "--outdir", str(built), str(project)]
        subprocess.run(command, check=True)  # noqa: S603 (fixed argv, no shell)
        found = sorted(path.name for path in built.iterdir())
        if found != sorted(expected):
            raise SystemExit(f"expected {expected}, the build made {found}")
        for name in expected:
            shutil.move(built / name, outdir / name)
    return [outdir / name for name in expected]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--outdir", type=Path, default=ROOT / "dist", help="where to put the files (default: dist/)"
    )
    args = parser.parse_args(argv)
    for path in build(args.outdir.resolve()):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
