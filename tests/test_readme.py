"""The README states facts the code must keep true."""

from __future__ import annotations

from pathlib import Path

from api.auth.permissions import matrix_markdown
from api.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_permission_table_in_the_readme_is_the_one_in_code() -> None:
    start = README.index("<!-- permissions:start -->") + len("<!-- permissions:start -->")
    end = README.index("<!-- permissions:end -->")
    assert README[start:end].strip() == matrix_markdown()


def test_every_setting_is_documented_in_the_readme() -> None:
    for name in Settings.model_fields:
        assert f"PRECEDENT_{name.upper()}" in README, name
