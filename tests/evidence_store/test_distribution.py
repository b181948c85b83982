"""The stand-alone verifier `precedent-evidence`: built from evidence_store/ alone and installed into a fresh
virtual environment (on the oldest Python it supports when this machine has it), it holds nothing of the server
and checks a bundle downloaded from the real application (local or S3 storage, internal or ILO audience),
vouching for it only against the organisation's published key and naming a changed exhibit."""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

import evidence_store
from api.config import Settings
from api.main import create_app
from tests.conftest import S3_CREDENTIALS, Account
from tests.factories import API, create_case, make_jpeg, ok, upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = PROJECT_ROOT / "packaging" / "precedent-evidence" / "build.py"
SERVER_PACKAGES = ("api", "schemas", "migrations", "tests")
FRAMEWORKS = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "pydantic")
#: Imported by the installed copy on the environment's Python; s3 needs the [s3] extra (boto3).
WITHOUT_EXTRAS = "s3"
S3_PREFIX = "precedent"
NOTE = b"Order no. 17 of 2022-04-19\n"


def _base_python() -> tuple[str, str]:
    """Return (interpreter, version) to make the environment with: Python 3.10 if found, else this one."""
    # pyenv's own builds first: a `python3.10` on PATH may be a pyenv shim with no 3.10 selected.
    candidates = [
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10.*/bin/python3.10"))),
        "python3.10",
    ]
    for candidate in candidates:
        found = shutil.which(candidate)
        probe = [found, "-c", "import venv, ensurepip"] if found else None
        if probe and subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0:
            return probe[0], "3.10"
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


BASE_PYTHON, BASE_VERSION = _base_python()


def _outside_env() -> dict[str, str]:
    """Return this process's environment without anything that would let the repository's code be imported."""
    hidden = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    env["PYTHONNOUSERSITE"] = "1"
    return env


@dataclass(frozen=True)
class Installed:
    """A virtual environment holding only the built wheel and what pip pulled in for it."""

    python: Path
    script: Path
    workdir: Path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """Run a command from the environment, outside the repository, and capture its output."""
        return subprocess.run(
            [str(arg) for arg in args],
            cwd=self.workdir,
            env=_outside_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist and wheel with the build script (as `make verifier` does); return the wheel."""
    outdir = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--outdir", str(outdir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return outdir / f"precedent_evidence-{evidence_store.__version__}-py3-none-any.whl"


@pytest.fixture(scope="module", params=[BASE_PYTHON], ids=[f"python{BASE_VERSION}"])
def installed(
    request: pytest.FixtureRequest, wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> Installed:
    """Make a fresh virtual environment with the parametrized Python and install only the wheel into it."""
    root = tmp_path_factory.mktemp("verifier")
    env_dir, workdir = root / "venv", root / "work"
    workdir.mkdir()
    subprocess.run([request.param, "-m", "venv", str(env_dir)], check=True, timeout=300)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    installed = Installed(bin_dir / "python", bin_dir / "precedent-verify", workdir)
    result = installed.run(installed.python, "-m", "pip", "install", "--no-input", str(wheel))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return installed


@dataclass(frozen=True)
class App:
    """The real application on one storage backend, and a look into that backend."""

    client: TestClient
    stored: Callable[[], set[str]]  # the hex SHA-256 of every blob the backend holds


def _on_s3(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> tuple[Settings, Callable[[], set[str]]]:
    """Return settings for S3 storage in a fresh bucket on the loopback S3 server, and a lister of its blobs."""
    # Asked for here, not in the signature, so the local-storage runs start no S3 server.
    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket: str = request.getfixturevalue("s3_bucket")
    s3: S3Client = request.getfixturevalue("s3_client")
    settings = make_settings(
        storage_backend="s3",
        s3_bucket=bucket,
        s3_prefix=S3_PREFIX,
        s3_endpoint_url=endpoint,
        s3_region=S3_CREDENTIALS["region"],
        s3_access_key_id=S3_CREDENTIALS["access_key"],
        s3_secret_access_key=S3_CREDENTIALS["secret_key"],
    )

    def stored() -> set[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{S3_PREFIX}/sha256/")
        return {entry["Key"].rsplit("/", 1)[1] for entry in listed.get("Contents", [])}

    return settings, stored


def _on_local(make_settings: Callable[..., Settings]) -> tuple[Settings, Callable[[], set[str]]]:
    """Return settings for local file storage in this test's data folder, and a lister of its blobs."""
    settings = make_settings()

    def stored() -> set[str]:
        return {path.name for path in (settings.evidence_dir / "sha256").rglob("*") if path.is_file()}

    return settings, stored


@pytest.fixture(params=["local", "s3"])
def app(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Iterator[App]:
    """Run the application, over this test's database, with the parametrized storage backend."""
    settings, stored = _on_s3(request, make_settings) if request.param == "s3" else _on_local(make_settings)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield App(client, stored)


def _case_with_two_exhibits(client: TestClient, who: Account) -> tuple[str, bytes]:
    """Create a case holding a JPEG with GPS and camera serial, and a text note; return (case id, JPEG)."""
    case = create_case(client, who)
    photo = make_jpeg()
    upload(client, who, case["id"], photo, filename="arrest.jpg")
    upload(client, who, case["id"], NOTE, filename="order.txt")
    return case["id"], photo


def _download_bundle(
    client: TestClient, who: Account, case_id: str, audience: str, where: Path
) -> tuple[Path, Path]:
    """Download the case's bundle for `audience` and the published key into `where`; return (zip, key)."""
    response = client.get(f"{API}/cases/{case_id}/bundle", params={"audience": audience}, headers=who.headers)
    assert response.status_code == 200, response.text
    archive = where / f"bundle-{audience}.zip"
    archive.write_bytes(response.content)
    key = where / "published.pem"
    key.write_text(ok(client.get(f"{API}/custody/key", headers=who.headers))["public_key_pem"])
    return archive, key


def _exhibits(archive: Path) -> list[dict[str, Any]]:
    """Return the bundle's exhibit records (data/records/exhibits.json)."""
    with zipfile.ZipFile(archive) as source:
        (name,) = [n for n in source.namelist() if n.endswith("/data/records/exhibits.json")]
        records: list[dict[str, Any]] = json.loads(source.read(name))
    return records


@pytest.fixture
def bundle(client: TestClient, coordinator: Account, tmp_path: Path) -> tuple[Path, Path]:
    """Download an internal bundle of a case with two exhibits from the app; return (zip, published key)."""
    case_id, _ = _case_with_two_exhibits(client, coordinator)
    return _download_bundle(client, coordinator, case_id, "internal", tmp_path)


def test_the_wheel_holds_evidence_store_and_nothing_of_the_server(wheel: Path) -> None:
    dist_info = f"precedent_evidence-{evidence_store.__version__}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
        metadata = archive.read(f"{dist_info}/METADATA").decode()
    assert {name.split("/", 1)[0] for name in names} == {"evidence_store", dist_info}
    assert not [name for name in names if name.split("/", 1)[0] in SERVER_PACKAGES]
    assert {"evidence_store/__main__.py", "evidence_store/verify.py", "evidence_store/py.typed"} <= set(names)
    assert "precedent-verify = evidence_store.__main__:main" in entry_points
    assert "Requires-Python: >=3.10" in metadata


def test_precedent_verify_answers_help(installed: Installed) -> None:
    result = installed.run(installed.script, "--help")
    assert result.returncode == 0, result.stderr
    assert "verify" in result.stdout
    result = installed.run(installed.script, "verify", "--help")
    assert result.returncode == 0, result.stderr
    assert "--public-key" in result.stdout


def test_the_environment_runs_the_installed_copy_and_cannot_import_the_server(installed: Installed) -> None:
    probe = f"""
import importlib, importlib.util, json, pkgutil, sys
import evidence_store
for module in pkgutil.iter_modules(evidence_store.__path__):
    if module.name != {WITHOUT_EXTRAS!r}:
        importlib.import_module("evidence_store." + module.name)
found = [name for name in {(*SERVER_PACKAGES, *FRAMEWORKS)!r} if importlib.util.find_spec(name)]
print(json.dumps({{"version": sys.version, "package": evidence_store.__file__, "found": found}}))
"""
    result = installed.run(installed.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["version"].startswith(BASE_VERSION + ".")
    assert Path(seen["package"]).is_relative_to(installed.python.parents[1])
    assert seen["found"] == []
    assert installed.run(installed.python, "-c", "import api").returncode == 1
    assert installed.run(installed.python, "-c", "import fastapi").returncode == 1


@pytest.mark.parametrize("audience", ["internal", "ilo"])
def test_an_honest_bundle_from_the_app_is_verified_against_the_published_key_only(
    installed: Installed, app: App, coordinator: Account, audience: str, tmp_path: Path
) -> None:
    case_id, photo = _case_with_two_exhibits(app.client, coordinator)
    archive, key = _download_bundle(app.client, coordinator, case_id, audience, tmp_path)
    exhibits = _exhibits(archive)
    original = hashlib.sha256(photo).hexdigest()
    if audience == "internal":
        assert {e["sha256"] for e in exhibits} == {original, hashlib.sha256(NOTE).hexdigest()}
    else:  # the JPEG carries GPS and a serial number: a stripped copy, made for this bundle, goes instead
        (copy,) = [e for e in exhibits if e["derived_from_sha256"] == original]
        assert copy["form"] == "working_copy" and copy["sha256"] != original
        assert original not in {e["sha256"] for e in exhibits}
    assert {e["sha256"] for e in exhibits} <= app.stored()  # every exhibit was read from this backend

    result = installed.run(installed.script, "verify", archive, "--public-key", key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout

    # Without the published key only the key shipped inside vouches, and a forger can replace that one.
    unkeyed = installed.run(installed.script, "verify", archive)
    assert unkeyed.returncode == 1, unkeyed.stdout + unkeyed.stderr
    assert "VERIFIED" not in unkeyed.stdout + unkeyed.stderr
    assert "FAIL  --public-key: not given" in unkeyed.stdout
    assert "FAILED: 1 problem(s)" in unkeyed.stdout  # the only complaint: every other check passed


def test_a_changed_exhibit_byte_fails_and_is_named(
    installed: Installed, bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    archive, key = bundle
    with zipfile.ZipFile(archive) as source:
        source.extractall(tmp_path / "unpacked")
    (bag,) = (tmp_path / "unpacked").iterdir()
    exhibit = sorted((bag / "data" / "exhibits").iterdir())[0]
    data = bytearray(exhibit.read_bytes())
    data[len(data) // 2] ^= 0x01
    exhibit.write_bytes(bytes(data))
    repacked = io.BytesIO()
    with zipfile.ZipFile(repacked, "w") as target:
        for path in sorted(bag.rglob("*")):
            target.write(path, path.relative_to(bag.parent).as_posix())
    (tmp_path / "tampered.zip").write_bytes(repacked.getvalue())
    for tampered in (bag, tmp_path / "tampered.zip"):
        result = installed.run(installed.script, "verify", tampered, "--public-key", key)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "FAILED" in result.stdout
        assert exhibit.name in result.stdout
