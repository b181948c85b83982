"""The README and the docs state facts the code must keep true."""

from __future__ import annotations

import re
from pathlib import Path

from api.auth.permissions import matrix_markdown
from api.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ROLES = (ROOT / "docs" / "roles.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()


def test_permission_table_in_the_docs_is_the_one_in_code() -> None:
    start = ROLES.index("<!-- permissions:start -->") + len("<!-- permissions:start -->")
    end = ROLES.index("<!-- permissions:end -->")
    assert ROLES[start:end].strip() == matrix_markdown()


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"PRECEDENT_{name.upper()}" in CONFIGURATION, name


def test_the_readme_fits_on_two_screens_and_every_link_resolves() -> None:
    assert len(README.splitlines()) <= 100
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
