"""The HURIDOCS vocabularies match Appendix B and carry their caveats; taxonomy codes exist in them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.taxonomy.loader import (
    DATA_DIR,
    TaxonomyFileError,
    check_huridocs_refs,
    current_taxonomy_path,
    current_vocabularies_path,
    flatten,
    load_taxonomy_file,
    load_vocabularies,
    parse_taxonomy,
    parse_vocabularies,
)
from schemas.taxonomy import HuridocsRef, TaxonomyFile, VocabularyFile

APPENDIX_B = Path(__file__).parent / "data" / "appendix_b.yaml"
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
REQUIRED = {
    24: "perpetrator_type",
    17: "location_type",
    29: "detention_type",
    41: "violation_status",
    42: "reliability",
    25: "victim_status",
}


@pytest.fixture(scope="module")
def vocabularies() -> VocabularyFile:
    return load_vocabularies()


@pytest.fixture(scope="module")
def taxonomy() -> TaxonomyFile:
    return load_taxonomy_file(current_taxonomy_path())


@pytest.fixture(scope="module")
def appendix_b() -> dict[int, Any]:
    with APPENDIX_B.open(encoding="utf-8") as stream:
        lists: dict[int, Any] = yaml.safe_load(stream)["lists"]
    return lists


def _huridocs_refs(taxonomy: TaxonomyFile) -> list[tuple[str, HuridocsRef]]:
    return [(n.code, r) for n in flatten(taxonomy) for r in n.spec.norms if isinstance(r, HuridocsRef)]


def _vocabulary(**changes: Any) -> dict[str, Any]:
    vocabulary = {
        "key": "perpetrator_type",
        "huridocs_list": 24,
        "title": {"en": "Types of Perpetrators", "be": "Тыпы парушальнікаў", "ru": "Типы нарушителей"},
        "terms": [
            {
                "code": "010000000000",
                "labels": {"en": "Governmental entities", "be": "Дзяржава", "ru": "Государство"},
            },
            {
                "code": "010100000000",
                "parent": "010000000000",
                "labels": {"en": "Executive", "be": "Выканаўчая ўлада", "ru": "Исполнительная власть"},
            },
        ],
    }
    vocabulary.update(changes)
    return vocabulary


def _file(*vocabularies: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "status": "draft",
        "licence_note": "Confirm with HURIDOCS.",
        "translation_note": "Translations by Precedent.",
        "source": "Appendix B",
        "vocabularies": list(vocabularies),
    }


class TestShippedVocabularies:
    def test_current_file_is_shipped_and_released(self, vocabularies: VocabularyFile) -> None:
        assert current_vocabularies_path() == DATA_DIR / "vocabularies.v1.yaml"
        assert vocabularies.status == "released"

    def test_required_lists_are_present_under_stable_keys(self, vocabularies: VocabularyFile) -> None:
        shipped = {v.huridocs_list: v.key for v in vocabularies.vocabularies}
        assert REQUIRED.items() <= shipped.items()
        assert {7, 16, 18, 30, 48} <= shipped.keys()

    def test_only_location_types_are_partial(self, vocabularies: VocabularyFile) -> None:
        assert [v.huridocs_list for v in vocabularies.vocabularies if v.partial] == [17]

    def test_complete_lists_match_appendix_b_exactly(
        self, vocabularies: VocabularyFile, appendix_b: dict[int, Any]
    ) -> None:
        for vocabulary in vocabularies.vocabularies:
            source = appendix_b[vocabulary.huridocs_list]
            assert source["complete"] != vocabulary.partial, vocabulary.key
            expected = {code: (t["label"], t["parent"]) for code, t in source["terms"].items()}
            shipped = {t.code: (t.labels.en, t.parent) for t in vocabulary.terms}
            assert shipped == expected, vocabulary.key

    def test_term_counts(self, vocabularies: VocabularyFile) -> None:
        counts = {v.huridocs_list: len(v.terms) for v in vocabularies.vocabularies}
        assert counts == {24: 40, 18: 23, 25: 41, 29: 9, 30: 16, 17: 27, 41: 8, 42: 6, 7: 6, 16: 25, 48: 3}

    def test_parents_come_before_their_children(self, vocabularies: VocabularyFile) -> None:
        for vocabulary in vocabularies.vocabularies:
            seen: set[str] = set()
            for term in vocabulary.terms:
                assert term.parent is None or term.parent in seen, (vocabulary.key, term.code)
                seen.add(term.code)

    def test_labels_are_translated_into_belarusian_and_russian(self, vocabularies: VocabularyFile) -> None:
        terms = [t for v in vocabularies.vocabularies for t in (*v.terms,)]
        for term in terms:
            assert not CYRILLIC.search(term.labels.en)
            assert CYRILLIC.search(term.labels.be) and CYRILLIC.search(term.labels.ru), term.code
            assert not set(term.labels.be) & set("иИщЩъЪ"), term.labels.be
            assert not set(term.labels.ru) & set("іІўЎ"), term.labels.ru
        assert sum(t.labels.be != t.labels.ru for t in terms) / len(terms) >= 0.95

    def test_licence_and_translation_caveats_are_stated(self, vocabularies: VocabularyFile) -> None:
        licence = vocabularies.licence_note.lower()
        assert "huridocs" in licence and "licence" in licence and "confirm" in licence
        translation = vocabularies.translation_note
        assert "Precedent's translations" in translation and "Russian" in translation

    def test_lookup_by_key_list_and_code(self, vocabularies: VocabularyFile) -> None:
        police = vocabularies.get("perpetrator_type").term("010104000000")
        assert police is not None and police.labels.en == "Police" and police.parent == "010100000000"
        location = vocabularies.by_list(17)
        assert location is not None and location.key == "location_type"
        assert vocabularies.by_list(4) is None
        with pytest.raises(KeyError):
            vocabularies.get("types_of_acts")


class TestTaxonomyUsesTheVocabularies:
    def test_huridocs_codes_are_twelve_digits(self, taxonomy: TaxonomyFile) -> None:
        refs = _huridocs_refs(taxonomy)
        assert len(refs) > 50
        assert all(re.fullmatch(r"[0-9]{12}", ref.code) for _, ref in refs)

    def test_codes_of_shipped_lists_exist_there_with_the_same_label(
        self, taxonomy: TaxonomyFile, vocabularies: VocabularyFile
    ) -> None:
        checked = [ref for _, ref in _huridocs_refs(taxonomy) if vocabularies.by_list(ref.thesaurus)]
        assert {ref.thesaurus for ref in checked} == {25, 29, 30}
        assert check_huridocs_refs(taxonomy, vocabularies) == []

    def test_labels_are_exactly_those_of_appendix_b(
        self, taxonomy: TaxonomyFile, appendix_b: dict[int, Any]
    ) -> None:
        for code, ref in _huridocs_refs(taxonomy):
            terms = appendix_b[ref.thesaurus]["terms"]
            if ref.label is None:
                # Codes cited in section (a) whose label the report does not quote.
                assert ref.code not in terms and ref.note, code
            else:
                assert terms[ref.code]["label"] == ref.label, (code, ref.code)

    def test_a_code_missing_from_a_vocabulary_is_reported(self, vocabularies: VocabularyFile) -> None:
        def leaf(code: str, label: str) -> dict[str, Any]:
            norm = {"kind": "huridocs", "thesaurus": 29, "code": code, "label": label, "verification": "seen"}
            return {
                "code": "A",
                "labels": {"en": "Area", "be": "Вобласць", "ru": "Область"},
                "definition": {"en": "Area."},
                "norms": [norm],
            }

        def check(code: str, label: str) -> list[str]:
            taxonomy = parse_taxonomy(
                {
                    "version": 1,
                    "status": "draft",
                    "title": {"en": "T", "be": "Т", "ru": "Т"},
                    "nodes": [leaf(code, label)],
                }
            )
            return [str(p) for p in check_huridocs_refs(taxonomy, vocabularies)]

        assert check("010000000000", "Held under administrative detention") == []
        assert check("080000000000", "Held somewhere") == ["A: MT 29 has no term 080000000000"]
        assert check("010000000000", "Administrative detention") == [
            "A: MT 29 010000000000 is 'Held under administrative detention', not 'Administrative detention'"
        ]


class TestBadVocabulariesAreRefused:
    @pytest.mark.parametrize(
        ("vocabulary", "fragment"),
        [
            (
                _vocabulary(terms=[*_vocabulary()["terms"], _vocabulary()["terms"][1]]),
                "duplicate term codes 010100000000",
            ),
            (
                _vocabulary(terms=[{**_vocabulary()["terms"][1], "parent": "020000000000"}]),
                "term 010100000000 has unknown parent 020000000000",
            ),
            (
                _vocabulary(
                    terms=[_vocabulary()["terms"][0], {**_vocabulary()["terms"][1], "code": "020100000000"}]
                ),
                "term 020100000000 does not extend its parent 010000000000",
            ),
            (
                _vocabulary(
                    hierarchical_codes=False,
                    terms=[
                        {**_vocabulary()["terms"][0], "parent": "010100000000"},
                        _vocabulary()["terms"][1],
                    ],
                ),
                "is in a parent cycle",
            ),
        ],
    )
    def test_bad_term_tree_names_vocabulary_and_term(self, vocabulary: dict[str, Any], fragment: str) -> None:
        with pytest.raises(TaxonomyFileError) as caught:
            parse_vocabularies(_file(vocabulary))
        assert fragment in str(caught.value)
        assert caught.value.codes == {"perpetrator_type"}

    def test_a_short_code_names_the_term(self) -> None:
        vocabulary = _vocabulary(terms=[{**_vocabulary()["terms"][0], "code": "0100"}])
        with pytest.raises(TaxonomyFileError) as caught:
            parse_vocabularies(_file(vocabulary))
        assert caught.value.codes == {"0100"}
        assert "perpetrator_type" in str(caught.value)

    def test_duplicate_vocabulary_keys_are_refused(self) -> None:
        with pytest.raises(TaxonomyFileError, match="duplicate vocabulary key: perpetrator_type"):
            parse_vocabularies(_file(_vocabulary(), _vocabulary(huridocs_list=99)))

    def test_the_shipped_file_round_trips_through_the_parser(self) -> None:
        with current_vocabularies_path().open(encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
        assert parse_vocabularies(data) == load_vocabularies()
