"""Retired codes resolve to their replacements across versions; codes never shipped resolve to unknown.

Versions 2 and 3 are test fixtures (tests/taxonomy/data), complete successors of the shipped version 1:
v2 retires C.DIS.NONRENEWAL into C.DIS.DISMISSAL and splits A.LIB.CONDITIONS into A.LIB.ILLTREATMENT
(default) and A.LIB.INCOMMUNICADO; v3 moves A.LIB.ILLTREATMENT to A.INT.ILLTREATMENT.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from api.taxonomy.loader import (
    DATA_DIR,
    TaxonomyLineageError,
    check_lineage,
    check_succession,
    current_taxonomy_path,
    flatten,
    load_lineage,
    load_taxonomy_file,
    resolve_code,
)
from schemas.taxonomy import CodeMapping, TaxonomyFile, TaxonomyNodeSpec

FIXTURES = Path(__file__).parent / "data"
V2 = FIXTURES / "precedents.v2.yaml"
V3 = FIXTURES / "precedents.v3.yaml"


@pytest.fixture(scope="module")
def lineage() -> list[TaxonomyFile]:
    return load_lineage([current_taxonomy_path(), V2, V3])


@pytest.fixture(scope="module")
def v1(lineage: list[TaxonomyFile]) -> TaxonomyFile:
    return lineage[0]


@pytest.fixture(scope="module")
def v2(lineage: list[TaxonomyFile]) -> TaxonomyFile:
    return lineage[1]


@pytest.fixture(scope="module")
def v3(lineage: list[TaxonomyFile]) -> TaxonomyFile:
    return lineage[2]


def _codes(taxonomy: TaxonomyFile) -> set[str]:
    return {n.code for n in flatten(taxonomy)}


class TestFixtureVersions:
    def test_lineage_is_ordered_and_consistent(self, lineage: list[TaxonomyFile]) -> None:
        assert [f.version for f in lineage] == [1, 2, 3]
        assert check_lineage(lineage) == []

    def test_v2_retires_one_code_and_splits_another(self, v1: TaxonomyFile, v2: TaxonomyFile) -> None:
        mappings = {m.code: m for m in v2.retired}
        assert mappings["C.DIS.NONRENEWAL"].targets == ("C.DIS.DISMISSAL",)
        assert not mappings["C.DIS.NONRENEWAL"].is_split
        assert mappings["A.LIB.CONDITIONS"].targets == ("A.LIB.ILLTREATMENT", "A.LIB.INCOMMUNICADO")
        assert mappings["A.LIB.CONDITIONS"].is_split
        assert _codes(v1) - _codes(v2) == set(mappings)

    def test_v2_fixture_uses_the_flat_parent_form(self) -> None:
        with V2.open(encoding="utf-8") as stream:
            nodes: list[dict[str, Any]] = yaml.safe_load(stream)["nodes"]
        assert all("children" not in node for node in nodes)
        assert all(("parent" in node) == ("." in node["code"]) for node in nodes)

    def test_fixtures_are_not_shipped(self) -> None:
        shipped = {p.name for p in DATA_DIR.iterdir()}
        assert "precedents.v2.yaml" not in shipped and "precedents.v3.yaml" not in shipped
        assert current_taxonomy_path().name == "precedents.v1.yaml"


class TestResolveCode:
    def test_a_current_code_resolves_to_itself(self, lineage: list[TaxonomyFile]) -> None:
        resolution = resolve_code("A.LIB.ARREST", lineage)
        assert (resolution.status, resolution.codes, resolution.note) == ("current", ("A.LIB.ARREST",), "")

    def test_a_retired_code_maps_to_its_replacement(self, v1: TaxonomyFile, v2: TaxonomyFile) -> None:
        resolution = resolve_code("C.DIS.NONRENEWAL", [v1, v2])
        assert resolution.status == "retired"
        assert resolution.codes == ("C.DIS.DISMISSAL",)
        assert resolution.default == "C.DIS.DISMISSAL" and resolution.alternatives == ()
        assert resolution.note.startswith("v2: C.DIS.NONRENEWAL replaced by C.DIS.DISMISSAL: Non-renewal")

    def test_a_split_code_maps_to_its_default_then_the_alternatives(
        self, v1: TaxonomyFile, v2: TaxonomyFile
    ) -> None:
        resolution = resolve_code("A.LIB.CONDITIONS", [v1, v2])
        assert resolution.default == "A.LIB.ILLTREATMENT"
        assert resolution.alternatives == ("A.LIB.INCOMMUNICADO",)
        assert "split into A.LIB.ILLTREATMENT (default), A.LIB.INCOMMUNICADO" in resolution.note

    def test_mappings_chain_from_v1_through_v2_to_v3(self, lineage: list[TaxonomyFile]) -> None:
        resolution = resolve_code("A.LIB.CONDITIONS", lineage)
        assert resolution.codes == ("A.INT.ILLTREATMENT", "A.LIB.INCOMMUNICADO")
        assert [hop[:3] for hop in resolution.chain] == ["v2:", "v3:"]
        assert "A.LIB.ILLTREATMENT replaced by A.INT.ILLTREATMENT" in resolution.note

    def test_a_code_born_in_v2_and_retired_in_v3_resolves_forward(self, lineage: list[TaxonomyFile]) -> None:
        assert resolve_code("A.LIB.ILLTREATMENT", lineage).codes == ("A.INT.ILLTREATMENT",)
        assert resolve_code("A.INT.ILLTREATMENT", lineage).status == "current"

    def test_a_code_never_shipped_is_unknown(self, lineage: list[TaxonomyFile]) -> None:
        resolution = resolve_code("A.LIB.TELEPORTATION", lineage)
        assert (resolution.status, resolution.codes, resolution.default) == ("unknown", (), None)
        assert "not a code of taxonomy versions 1-3" in resolution.note

    def test_the_order_of_the_files_does_not_matter(self, lineage: list[TaxonomyFile]) -> None:
        assert resolve_code("A.LIB.CONDITIONS", lineage[::-1]) == resolve_code("A.LIB.CONDITIONS", lineage)

    def test_with_only_v1_every_v1_code_is_current(self, v1: TaxonomyFile) -> None:
        assert resolve_code("A.LIB.CONDITIONS", [v1]).status == "current"

    def test_every_v1_code_resolves_to_codes_of_v3(
        self, v1: TaxonomyFile, lineage: list[TaxonomyFile]
    ) -> None:
        latest = _codes(lineage[-1])
        for code in _codes(v1):
            resolution = resolve_code(code, lineage)
            assert resolution.codes and set(resolution.codes) <= latest, code

    def test_repeated_versions_are_refused(self, v1: TaxonomyFile) -> None:
        with pytest.raises(ValueError, match="versions repeat"):
            resolve_code("A", [v1, v1])


class TestLineageChecks:
    def test_dropping_codes_without_a_mapping_is_reported(self, v1: TaxonomyFile, v2: TaxonomyFile) -> None:
        silent = v2.model_copy(update={"retired": ()})
        problems = check_succession(v1, silent)
        assert {p.code for p in problems} == {"C.DIS.NONRENEWAL", "A.LIB.CONDITIONS"}
        with pytest.raises(TaxonomyLineageError, match=r"C\.DIS\.NONRENEWAL: disappears in version 2"):
            resolve_code("C.DIS.NONRENEWAL", [v1, silent])

    def test_skipping_a_version_is_reported(self, v1: TaxonomyFile, v3: TaxonomyFile) -> None:
        messages = [str(p) for p in check_succession(v1, v3)]
        assert "version 3 does not follow version 1" in messages
        with pytest.raises(TaxonomyLineageError):
            load_lineage([current_taxonomy_path(), V3])

    def test_retiring_a_code_that_did_not_exist_is_reported(self, v1: TaxonomyFile, v2: TaxonomyFile) -> None:
        extra = CodeMapping(code="A.LIB.GHOST", replaced_by="A.LIB.ARREST", note="Never existed.")
        problems = check_succession(v1, v2.model_copy(update={"retired": (*v2.retired, extra)}))
        assert [p.code for p in problems] == ["A.LIB.GHOST"]

    def test_a_retired_code_may_never_come_back(
        self, v1: TaxonomyFile, v2: TaxonomyFile, v3: TaxonomyFile
    ) -> None:
        dismissal = next(n.spec for n in flatten(v3) if n.code == "C.DIS.DISMISSAL")
        revenant = TaxonomyNodeSpec.model_validate(
            {
                **dismissal.model_dump(),
                "code": "C.DIS.NONRENEWAL",
                "parent": "C.DIS",
                "labels": {"en": "Non-renewal again", "be": "Зноў непрадаўжэнне", "ru": "Снова непродление"},
            }
        )
        v3_reusing = v3.model_copy(update={"nodes": (*v3.nodes, revenant)})
        problems = [str(p) for p in check_lineage([v1, v2, v3_reusing])]
        assert problems == ["C.DIS.NONRENEWAL: retired in version 2, reused in version 3"]

    def test_each_fixture_also_loads_alone(self) -> None:
        assert load_taxonomy_file(V2).version == 2
        assert load_taxonomy_file(V3).version == 3


class TestCodeMapping:
    def test_a_code_cannot_map_to_itself(self) -> None:
        with pytest.raises(ValidationError, match="maps to itself"):
            CodeMapping(code="A.X", replaced_by="A.X", note="No.")

    def test_targets_cannot_repeat(self) -> None:
        with pytest.raises(ValidationError, match="a target is repeated"):
            CodeMapping(code="A.X", replaced_by="A.Y", alternatives=("A.Y",), note="No.")

    def test_targets_are_default_first(self) -> None:
        mapping = CodeMapping(code="A.X", replaced_by="A.Y", alternatives=("A.Z",), note="Split.")
        assert mapping.targets == ("A.Y", "A.Z") and mapping.is_split
