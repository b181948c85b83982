"""The shipped taxonomy is a sound tree, honest about its sources; bad files are refused clearly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.taxonomy.loader import (
    DATA_DIR,
    FlatNode,
    TaxonomyFileError,
    UnknownCodeError,
    applicable_norms,
    current_taxonomy_path,
    descendants,
    flatten,
    load_taxonomy_file,
    parse_taxonomy,
    taxonomy_paths,
)
from schemas.taxonomy import (
    CfaCompilationRef,
    CfaDigestRef,
    IloInstrumentRef,
    ItucGroupRef,
    NormRef,
    TaxonomyFile,
)

INVALID = Path(__file__).parent / "data" / "invalid"

# Every leaf code proposed in standards.md section (a), in the report's order.
REFERENCE_LEAF_CODES = """
A.LIB.ARREST A.LIB.PRETRIAL A.LIB.CRIMINAL A.LIB.ADMIN A.LIB.CONDITIONS A.LIB.PSYCH A.DUE.TRIAL
A.DUE.EXTREMIST A.INT.KILL A.INT.VIOLENCE A.INT.THREAT A.INT.SURVEIL A.PROP.RAID A.PROP.SEIZE A.PROP.CLOSE
A.MOV.TRAVEL A.MOV.EXILE A.EXP.ASSEMBLY A.EXP.PUBLICATIONS A.EXP.MEMBERLIST B.EST.REGISTRATION
B.EST.UNREGISTERED_CRIME B.EST.THRESHOLD B.DIS.ADMIN B.DIS.JUDICIAL B.DIS.PRIMARY B.AUT.ELECTIONS
B.AUT.ADMIN_FINANCE B.AUT.ACTIVITIES B.PLU.STATE_UNION B.PLU.DOMINATION B.PLU.PRESSURE_TO_LEAVE
B.FED.AFFILIATION C.DIS.DISMISSAL C.DIS.NONRENEWAL C.DIS.HIRING_BLACKLIST C.DIS.PREJUDICE
C.DIS.POLITICAL_OPINION C.DIS.NO_REMEDY C.DIS.REPRESENTATIVES D.CB.REFUSAL D.CB.TRIPARTITE_EXCLUSION
D.CB.ANNULMENT E.STR.ILLEGALITY E.STR.SANCTIONS E.STR.BREAKING E.STR.LAW F.FL.POLITICAL_PRISON_LABOUR
F.FL.STRIKE_PUNISHMENT F.FL.LABOUR_DISCIPLINE F.FL.ECONOMIC_MOBILISATION F.FL.MENACE_OF_PENALTY G.EQ.PAY
G.EQ.DISCRIMINATION G.CL.MINIMUM_AGE G.CL.WORST_FORMS
""".split()

# The only Compilation (2018) chapter numbers standards.md confirms (✔); all others are inferred (✱).
CFA_CHAPTERS_CONFIRMED = {1, 2, 11, 13}
VERIFICATIONS = {"seen", "partly_seen", "inferred", "unverified"}
CYRILLIC = re.compile(r"[\u0400-\u04FF]")


@pytest.fixture(scope="module")
def taxonomy() -> TaxonomyFile:
    return load_taxonomy_file(current_taxonomy_path())


@pytest.fixture(scope="module")
def flat(taxonomy: TaxonomyFile) -> list[FlatNode]:
    return flatten(taxonomy)


@pytest.fixture(scope="module")
def raw() -> Any:
    with current_taxonomy_path().open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _norms(flat: list[FlatNode]) -> Iterator[tuple[str, NormRef]]:
    for node in flat:
        for norm in node.spec.norms:
            yield node.code, norm


def _walk(data: Any) -> Iterator[tuple[str, Any]]:
    """Yield every key/value pair of raw YAML data, at any depth."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(data, list):
        for item in data:
            yield from _walk(item)


def _node(code: str, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "labels": {"en": f"Node {code}", "be": f"Вузел {code}", "ru": f"Узел {code}"},
        "definition": {"en": f"Definition of {code}."},
        **extra,
    }


def _file(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 1,
        "status": "draft",
        "title": {"en": "Test", "be": "Тэст", "ru": "Тест"},
        "cfa_chapters_seen": [1, 2, 11, 13],
        "nodes": nodes,
    }


NORM = {
    "kind": "ilo_instrument",
    "instrument": "C87",
    "article": "3",
    "verification": "inferred",
    "note": "x",
}


class TestShippedFileIsATree:
    def test_current_file_is_the_highest_released_version(self) -> None:
        paths = taxonomy_paths()
        assert current_taxonomy_path() == paths[-1]
        assert current_taxonomy_path() == DATA_DIR / "precedents.v1.yaml"
        for path in paths:
            assert load_taxonomy_file(path).status == "released"

    def test_codes_are_unique(self, flat: list[FlatNode]) -> None:
        codes = [n.code for n in flat]
        assert len(codes) == len(set(codes)) == 80

    def test_every_parent_exists_and_comes_first(self, flat: list[FlatNode]) -> None:
        position = {n.code: i for i, n in enumerate(flat)}
        for node in flat:
            if node.depth == 0:
                assert node.parent is None
            else:
                assert node.parent in position
                assert position[node.parent] < position[node.code]

    def test_walking_up_from_any_node_reaches_an_area_without_a_cycle(self, flat: list[FlatNode]) -> None:
        parent = {n.code: n.parent for n in flat}
        for node in flat:
            seen, code = [node.code], node.parent
            while code is not None:
                assert code not in seen, f"cycle through {code}"
                seen.append(code)
                code = parent[code]
            assert len(seen[-1]) == 1  # an area code

    def test_has_the_seven_areas_a_to_g(self, flat: list[FlatNode]) -> None:
        assert [n.code for n in flat if n.depth == 0] == list("ABCDEFG")

    def test_has_categories_and_at_least_45_leaves(self, flat: list[FlatNode]) -> None:
        leaves = [n for n in flat if n.is_leaf]
        assert len(leaves) >= 45
        assert {n.depth for n in leaves} == {2}
        assert len([n for n in flat if n.depth == 1]) == 17

    def test_keeps_every_code_of_the_reference_exactly(self, flat: list[FlatNode]) -> None:
        leaf_codes = [n.code for n in flat if n.is_leaf]
        assert leaf_codes == REFERENCE_LEAF_CODES

    def test_codes_follow_area_category_leaf(self, flat: list[FlatNode]) -> None:
        patterns = {0: r"[A-G]", 1: r"[A-G]\.[A-Z]{2,4}", 2: r"[A-G]\.[A-Z]{2,4}\.[A-Z][A-Z_]+"}
        for node in flat:
            assert re.fullmatch(patterns[node.depth], node.code), node.code
            if node.parent is not None:
                assert node.code.startswith(node.parent + ".")

    def test_materialised_path_depth_and_ordinal(self, flat: list[FlatNode]) -> None:
        by_code = {n.code: n for n in flat}
        arrest = by_code["A.LIB.ARREST"]
        assert (arrest.path, arrest.depth, arrest.ordinal, arrest.parent) == (
            "A/A.LIB/A.LIB.ARREST",
            2,
            1,
            "A.LIB",
        )
        assert (by_code["A.LIB.PSYCH"].ordinal, by_code["G"].ordinal, by_code["G"].path) == (6, 7, "G")
        assert by_code["B.DIS.PRIMARY"].area == "B"

    def test_descendants_lists_the_subtree_in_order(self, taxonomy: TaxonomyFile) -> None:
        assert descendants(taxonomy, "A.LIB") == [
            "A.LIB.ARREST",
            "A.LIB.PRETRIAL",
            "A.LIB.CRIMINAL",
            "A.LIB.ADMIN",
            "A.LIB.CONDITIONS",
            "A.LIB.PSYCH",
        ]
        under_b = descendants(taxonomy, "B")
        assert under_b[:2] == ["B.EST", "B.EST.REGISTRATION"]
        assert len(under_b) == 5 + 13
        assert descendants(taxonomy, "A.LIB.ARREST") == []

    def test_descendants_of_an_unknown_code_raise(self, taxonomy: TaxonomyFile) -> None:
        with pytest.raises(UnknownCodeError):
            descendants(taxonomy, "A.NOPE")

    def test_applicable_norms_start_with_the_area_norms(self, taxonomy: TaxonomyFile) -> None:
        norms = applicable_norms(taxonomy, "A.LIB.ARREST")
        carriers = [code for code, _ in norms]
        assert carriers[0] == "A" and carriers[-1] == "A.LIB.ARREST"
        assert any(
            code == "A" and isinstance(n, IloInstrumentRef) and n.article == "8(2)" for code, n in norms
        )


class TestLeavesAreComplete:
    def test_every_leaf_has_three_labels_and_a_norm(self, flat: list[FlatNode]) -> None:
        for node in (n for n in flat if n.is_leaf):
            labels = node.spec.labels
            assert labels.en.strip() and labels.be.strip() and labels.ru.strip(), node.code
            assert len(node.spec.norms) >= 1, node.code

    def test_every_node_has_an_english_definition(self, flat: list[FlatNode]) -> None:
        assert all(n.spec.definition.en.endswith(".") for n in flat)

    def test_proposed_nodes_say_so_in_their_definition(self, flat: list[FlatNode]) -> None:
        proposed = [n for n in flat if n.spec.proposed]
        assert {n.code for n in proposed} >= {
            "A.MOV.EXILE",
            "C.DIS.NONRENEWAL",
            "D.CB.ANNULMENT",
            "E.STR.LAW",
        }
        assert all("✱" in n.spec.definition.en for n in proposed)


class TestVerification:
    def test_every_verification_is_one_of_the_four_markers(self, raw: Any) -> None:
        values = [value for key, value in _walk(raw) if key == "verification"]
        assert len(values) > 150
        assert set(values) <= VERIFICATIONS

    def test_all_four_markers_are_used(self, flat: list[FlatNode]) -> None:
        assert {norm.verification for _, norm in _norms(flat)} == VERIFICATIONS

    def test_cfa_chapters_claimed_seen_are_only_the_confirmed_ones(
        self, taxonomy: TaxonomyFile, flat: list[FlatNode]
    ) -> None:
        assert set(taxonomy.cfa_chapters_seen) == CFA_CHAPTERS_CONFIRMED
        for code, norm in _norms(flat):
            if isinstance(norm, CfaCompilationRef) and norm.verification == "seen":
                assert norm.chapter in CFA_CHAPTERS_CONFIRMED, code

    def test_inferred_chapter_numbers_ship_as_inferred(self, flat: list[FlatNode]) -> None:
        inferred_chapters = set()
        for code, norm in _norms(flat):
            if isinstance(norm, CfaCompilationRef) and norm.chapter not in CFA_CHAPTERS_CONFIRMED:
                assert norm.verification == "inferred", code
                if norm.chapter is not None:
                    inferred_chapters.add(norm.chapter)
        assert inferred_chapters == {4, 5, 7, 8, 9, 10, 12, 14, 15, 16}

    def test_no_compilation_paragraph_numbers(self, raw: Any, flat: list[FlatNode]) -> None:
        assert all(key != "paragraph" for key, _ in _walk(raw))
        assert all(n.paragraph is None for _, n in _norms(flat) if isinstance(n, CfaCompilationRef))

    def test_digest_paragraphs_are_only_the_cross_references_seen(self, flat: list[FlatNode]) -> None:
        digest = [n for _, n in _norms(flat) if isinstance(n, CfaDigestRef)]
        assert {n.paragraphs for n in digest if n.paragraphs} == {
            "30-32",
            "61-63",
            "677-679",
            "769-770",
            "813-816",
        }
        assert all(n.verification == "seen" for n in digest if n.paragraphs)

    def test_inferred_references_explain_themselves(self, flat: list[FlatNode]) -> None:
        missing = [code for code, n in _norms(flat) if n.verification == "inferred" and not n.note]
        assert missing == []

    def test_leaf_to_ituc_group_assignments_are_inferred(self, flat: list[FlatNode]) -> None:
        # standards.md: "Assigning individual leaves to a group is ✱ unless stated otherwise".
        by_code = {n.code: n for n in flat}
        for code, norm in _norms(flat):
            if isinstance(norm, ItucGroupRef) and by_code[code].is_leaf:
                assert norm.verification == "inferred", code

    @pytest.mark.parametrize(
        ("code", "kind", "match", "expected"),
        [
            ("A", "ilo_instrument", {"instrument": "C87", "article": "8(2)"}, "seen"),
            ("A", "ituc_group", {"group": "I"}, "inferred"),  # no marker in the reference
            ("A.LIB.ARREST", "ilo_instrument", {"instrument": "C87"}, "inferred"),  # no marker
            ("A.PROP.RAID", "cfa_compilation", {"chapter": 2}, "partly_seen"),
            ("A.EXP.MEMBERLIST", "cfa_digest", {}, "partly_seen"),
            ("B.EST.REGISTRATION", "cfa_compilation", {"chapter": 4}, "inferred"),
            ("B.DIS.ADMIN", "ilo_instrument", {"instrument": "C87", "article": "4"}, "seen"),
            ("B.DIS.ADMIN", "cfa_compilation", {"chapter": 11}, "seen"),
            ("C.DIS.DISMISSAL", "ilo_instrument", {"instrument": "C135"}, "unverified"),
            ("D", "ituc_group", {"group": "IV"}, "seen"),
            ("D.CB.REFUSAL", "ilo_instrument", {"instrument": "C98", "article": "4"}, "partly_seen"),
            ("E", "ituc_group", {"group": "V"}, "seen"),
            ("E", "cfa_compilation", {"chapter": 10}, "inferred"),
            ("E.STR.ILLEGALITY", "ilo_instrument", {"instrument": "C87"}, "unverified"),
            ("F.FL.MENACE_OF_PENALTY", "ilo_instrument", {"instrument": "C29", "article": "2"}, "unverified"),
            ("F.FL.MENACE_OF_PENALTY", "ilo_instrument", {"instrument": "P29"}, "partly_seen"),
            (
                "F.FL.POLITICAL_PRISON_LABOUR",
                "ilo_instrument",
                {"instrument": "C105", "article": "1(a)"},
                "seen",
            ),
            ("G.CL.WORST_FORMS", "ilo_instrument", {"instrument": "C182"}, "unverified"),
        ],
    )
    def test_markers_are_carried_over_from_the_reference(
        self, flat: list[FlatNode], code: str, kind: str, match: dict[str, object], expected: str
    ) -> None:
        node = next(n for n in flat if n.code == code)
        found = [
            n.verification
            for n in node.spec.norms
            if n.kind == kind and all(getattr(n, key) == value for key, value in match.items())
        ]
        assert found == [expected]


class TestUrgency:
    def test_urgent_nodes_are_leaves_under_the_cfa_urgency_grounds(self, flat: list[FlatNode]) -> None:
        urgent = [n for n in flat if n.spec.urgent]
        assert urgent
        for node in urgent:
            assert node.is_leaf, node.code
            if node.spec.urgency_ground == "life_or_personal_freedom":
                assert node.code.startswith(("A.LIB.", "A.INT.")), node.code
            else:
                assert node.spec.urgency_ground == "dissolution", node.code
                assert node.code.startswith("B.DIS."), node.code

    def test_arrest_detention_killing_and_dissolution_are_urgent(self, flat: list[FlatNode]) -> None:
        urgent = {n.code for n in flat if n.spec.urgent}
        assert urgent >= {
            "A.LIB.ARREST",
            "A.LIB.PRETRIAL",
            "A.LIB.CRIMINAL",
            "A.INT.KILL",
            "B.DIS.ADMIN",
            "B.DIS.JUDICIAL",
        }
        assert urgent.isdisjoint({"C.DIS.DISMISSAL", "D.CB.REFUSAL", "E.STR.BREAKING", "G.EQ.PAY"})


class TestLabels:
    def test_be_and_ru_are_cyrillic_and_differ_from_en(self, flat: list[FlatNode]) -> None:
        for node in flat:
            labels = node.spec.labels
            assert not CYRILLIC.search(labels.en), node.code
            for text in (labels.be, labels.ru):
                assert CYRILLIC.search(text) and text != labels.en, node.code

    def test_belarusian_and_russian_use_their_own_letters(self, flat: list[FlatNode]) -> None:
        for node in flat:
            for be in (node.spec.labels.be, node.spec.definition.be or ""):
                assert not set(be) & set("иИщЩъЪ"), node.code
            for ru in (node.spec.labels.ru, node.spec.definition.ru or ""):
                assert not set(ru) & set("іІўЎ"), node.code

    def test_belarusian_labels_are_not_copies_of_russian(self, flat: list[FlatNode]) -> None:
        differ = sum(n.spec.labels.be != n.spec.labels.ru for n in flat)
        assert differ / len(flat) >= 0.8
        with_belarusian_letters = sum(bool(set(n.spec.labels.be) & set("іІўЎ’")) for n in flat)
        assert with_belarusian_letters / len(flat) >= 0.6

    def test_labels_are_unique_in_each_language(self, flat: list[FlatNode]) -> None:
        for lang in ("en", "be", "ru"):
            labels = [getattr(n.spec.labels, lang) for n in flat]
            assert len(labels) == len(set(labels)), lang

    def test_definitions_in_all_three_languages(self, flat: list[FlatNode]) -> None:
        assert all(n.spec.definition.be and n.spec.definition.ru for n in flat)


class TestBadFilesAreRefusedNamingTheCode:
    @pytest.mark.parametrize(
        ("name", "code", "fragment"),
        [
            ("duplicate_code", "A.LIB.ARREST", "duplicate code"),
            ("missing_parent", "A.NOPE.ARREST", "parent A.NOPE does not exist"),
            ("parent_cycle", "A.LIB", "parent A.LIB.ARREST is not the code's prefix"),
            ("leaf_without_norms", "A.LIB.EMPTY", "leaf has no norm reference"),
            ("unknown_verification", "A.LIB.PRETRIAL", "verification: Input should be 'seen'"),
            ("unseen_paragraph", "A.LIB.PRETRIAL", "paragraph 123 is given but not seen"),
            ("inferred_chapter_claimed_seen", "A.LIB.REGISTRATION", "chapter 4 is marked seen"),
            ("retired_target_missing", "A.LIB.OLD", "maps to A.LIB.GONE"),
            ("russian_in_belarusian", "A.LIB.ARREST", "Russian-only letters"),
            ("urgent_category", "A.LIB", "only a leaf can be urgent"),
        ],
    )
    def test_invalid_fixture_gives_one_clear_problem(self, name: str, code: str, fragment: str) -> None:
        with pytest.raises(TaxonomyFileError) as caught:
            load_taxonomy_file(INVALID / f"{name}.yaml")
        error = caught.value
        assert isinstance(error, ValueError)
        assert [p.code for p in error.problems] == [code]
        assert fragment in str(error)
        assert f"{name}.yaml" in str(error)

    def test_every_problem_is_reported_at_once(self) -> None:
        data = _file(
            [
                _node(
                    "A",
                    children=[_node("A.X", norms=[NORM]), _node("A.X", norms=[NORM]), _node("A.Y")],
                ),
                _node("B.Z", parent="B", norms=[NORM]),
            ]
        )
        with pytest.raises(TaxonomyFileError) as caught:
            parse_taxonomy(data)
        assert caught.value.codes == {"A.X", "A.Y", "B.Z"}

    def test_invalid_yaml_names_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "precedents.v1.yaml"
        path.write_text("nodes: [\n", encoding="utf-8")
        with pytest.raises(TaxonomyFileError, match="not valid YAML") as caught:
            load_taxonomy_file(path)
        assert str(path) in str(caught.value)

    def test_file_name_and_content_must_agree_on_the_version(self, tmp_path: Path) -> None:
        path = tmp_path / "precedents.v7.yaml"
        path.write_text(yaml.safe_dump(_file([_node("A", norms=[NORM])])), encoding="utf-8")
        with pytest.raises(TaxonomyFileError, match="file name says version 7, content says 1"):
            load_taxonomy_file(path)

    def test_unquoted_huridocs_code_is_refused_not_coerced(self) -> None:
        norm = {
            "kind": "huridocs",
            "thesaurus": 4,
            "code": 30101000000,
            "label": "Arrest",
            "verification": "seen",
        }
        with pytest.raises(TaxonomyFileError, match=r"A\.LIB") as caught:
            parse_taxonomy(_file([_node("A", children=[_node("A.LIB", norms=[norm])])]))
        assert "norms[0].code" in str(caught.value)

    def test_a_released_file_needs_a_date(self) -> None:
        data = {**_file([_node("A", norms=[NORM])]), "status": "released"}
        with pytest.raises(TaxonomyFileError, match="release date"):
            parse_taxonomy(data)


class TestFlatAndNestedForms:
    def test_both_forms_give_the_same_tree(self) -> None:
        nested = _file(
            [
                _node(
                    "A",
                    children=[
                        _node(
                            "A.X", children=[_node("A.X.ONE", norms=[NORM]), _node("A.X.TWO", norms=[NORM])]
                        )
                    ],
                ),
                _node("B", norms=[NORM]),
            ]
        )
        flat_form = _file(
            [
                _node("A"),
                _node("A.X", parent="A"),
                _node("A.X.ONE", parent="A.X", norms=[NORM]),
                _node("B", norms=[NORM]),
                _node("A.X.TWO", parent="A.X", norms=[NORM]),
            ]
        )

        def shape(data: dict[str, Any]) -> list[tuple[str, str | None, str, int, int, bool]]:
            nodes = flatten(parse_taxonomy(data))
            return [(n.code, n.parent, n.path, n.depth, n.ordinal, n.is_leaf) for n in nodes]

        assert shape(nested) == shape(flat_form)
        assert shape(nested)[2] == ("A.X.ONE", "A.X", "A/A.X/A.X.ONE", 2, 1, True)

    def test_a_top_level_entry_must_be_an_area_or_name_its_parent(self) -> None:
        with pytest.raises(TaxonomyFileError, match="nest it or give parent A") as caught:
            parse_taxonomy(_file([_node("A", norms=[NORM]), _node("A.X", norms=[NORM])]))
        assert caught.value.codes == {"A.X"}

    def test_nesting_must_agree_with_the_code(self) -> None:
        with pytest.raises(TaxonomyFileError, match="nested under A but its code says otherwise"):
            parse_taxonomy(_file([_node("A", children=[_node("B.X", norms=[NORM])])]))
