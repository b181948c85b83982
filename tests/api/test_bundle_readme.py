"""The README inside every bundle tells a recipient how to check it by hand with sha256sum, openssl and bash:
its commands are run here, as written, on a real bundle, an honest one and a forged one."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import bagit
import pytest
from fastapi.testclient import TestClient

from api.exports.bundle_readme import README
from tests.conftest import Account
from tests.factories import API, create_case, make_jpeg, ok, upload

pytestmark = pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("openssl") and shutil.which("sha256sum")),
    reason="needs bash, openssl and sha256sum",
)


def readme_commands(text: str) -> str:
    """Return the README's commands (lines after '  $ ', with their deeper-indented continuations)."""
    script: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("  $ "):
            script.append(line[4:])
            inside = True
        elif inside and line.startswith("    ") and line.strip():
            script.append(line[4:])
        else:
            inside = False
    return "\n".join(script) + "\n"


def run_by_hand(bag: Path, key_pem: str) -> str:
    (bag / "published-key.pem").write_text(key_pem)
    readme = (bag / "data/README.txt").read_text()
    assert readme == README
    result = subprocess.run(
        ["bash", "-c", readme_commands(readme)],
        cwd=bag,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    (bag / "published-key.pem").unlink()
    return result.stdout + result.stderr


@pytest.fixture
def bundle(client: TestClient, coordinator: Account, tmp_path: Path) -> tuple[Path, str]:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="Checked by hand.")
    upload(client, coordinator, case["id"], make_jpeg(), filename="arrest.jpg")
    upload(client, coordinator, case["id"], b"Order no. 17\n", filename="order.txt")
    response = client.get(
        f"{API}/cases/{case['id']}/bundle", params={"audience": "ilo"}, headers=coordinator.headers
    )
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(tmp_path / "bag")
    (bag,) = list((tmp_path / "bag").iterdir())
    key = ok(client.get(f"{API}/custody/key", headers=coordinator.headers))
    return bag, key["public_key_pem"]


def test_the_readme_commands_check_an_honest_bundle_by_hand(bundle: tuple[Path, str]) -> None:
    bag, key = bundle
    out = run_by_hand(bag, key)
    head = json.loads((bag / "data/custody/tree-head.json").read_text())
    assert head["key_id"] in out  # the fingerprint a person compares with the organisation's
    assert "Signature Verified Successfully" in out
    assert "FAILED" not in out
    assert "the manifest lists every file, and every file it lists is here" in out
    exhibits = len(list((bag / "data/exhibits").iterdir()))
    assert out.count("PROVEN: record") == 1 + exhibits, out
    assert '"action":"exported"' in out
    assert "NOT" not in out, out


def test_the_readme_commands_expose_a_swapped_exhibit(bundle: tuple[Path, str]) -> None:
    bag, key = bundle
    exhibit = next(iter((bag / "data/exhibits").iterdir()))
    exhibit.write_bytes(exhibit.read_bytes() + b"\x00")
    bagit.Bag(str(bag)).save(manifests=True)  # anyone can recompute the bag's own lists
    out = run_by_hand(bag, key)
    assert f"{exhibit.relative_to(bag)}: FAILED" in out
    assert f"{exhibit.relative_to(bag)}: NOT IN THE LEDGER" in out


def test_the_readme_commands_refuse_another_key(bundle: tuple[Path, str], tmp_path: Path) -> None:
    bag, _ = bundle
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(tmp_path / "k")],
        check=True,
        capture_output=True,
    )
    other = subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "k"), "-pubout"], check=True, capture_output=True, text=True
    ).stdout
    out = run_by_hand(bag, other)
    assert "Signature Verified Successfully" not in out
