"""The clearing proposer, read as a hostile recipient of the cleared text: no form of a recorded name survives.

Each test records people as a documenter would (api identity fields), proposes a cleared text, and looks
for what a recipient could still read. Over-redaction is allowed; a surviving name form is a leak.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from api.clearing import equivalents
from api.clearing.names import PersonName, Proposal, Proposer, name_forms, propose


def person(pseudonym: str, **identity: object) -> PersonName:
    return PersonName.from_identity(person_id=uuid.uuid4(), pseudonym=pseudonym, identity=identity)


KARPETS = person("Witness K-7", full_name="Карпец Юрий Анатольевич")
ZHUK = person("Worker Z-2", full_name="Павел Жук")
SHCHERBA = person("Witness S-3", name_be="Ілля Мікалаевіч Шчэрба")
KOVALEVA = person("Witness O-4", full_name="Ольга Сергеевна Ковалёва")
PEOPLE = [KARPETS, ZHUK, SHCHERBA, KOVALEVA]


def cleared(text: str, people: list[PersonName] | None = None) -> Proposal:
    proposal = propose(text, PEOPLE if people is None else people)
    # Every change points at what it replaced, and the changes rebuild the cleared text.
    rebuilt, at = [], 0
    for change in proposal.changes:
        assert text[change.start : change.end] == change.original
        rebuilt += [text[at : change.start], change.replacement]
        at = change.end
    assert "".join([*rebuilt, text[at:]]) == proposal.text
    return proposal


def leaked(proposal: Proposal, *fragments: str) -> list[str]:
    return [f for f in fragments if f.casefold() in proposal.text.casefold()]


# ---- the forms the old redaction let through (issue 19) ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("Следователь вызвал Юрия Карпца на допрос.", ("Юри", "Карпц")),
        ("Следчы выклікаў Юрыя Карпца на допыт.", ("Юры", "Карпц")),
        ("У Павла Жука изъяли телефон, Жука увезли.", ("Павл", "Жук")),
        ("Адвакат Іллі Шчэрбы не змог трапіць у СІЗА.", ("Ілл", "Шчэрб")),
        ("Адвокат Ильи Щербы не смог попасть в СИЗО.", ("Иль", "Щерб")),
        ("Заявление Ольги Ковалевой не приняли.", ("Ольг", "Ковал")),
        ("Заяву Вольгі Кавалёвай не прынялі.", ("Вольг", "Кавал")),
        (
            "Yury Karpets and Ilya Shcherba met Olga Kovaleva.",
            ("Yury", "Karpets", "Ilya", "Shcherba", "Olga", "Kovaleva"),
        ),
        ("Ščerba, Szczerba and Karpiec signed.", ("Ščerba", "Szczerba", "Karpiec")),
    ],
)
def test_declined_respelt_and_transliterated_names_do_not_survive(
    text: str, fragments: tuple[str, ...]
) -> None:
    proposal = cleared(text)
    assert leaked(proposal, *fragments) == []


@pytest.mark.parametrize("given", ["Yury", "Yuri", "Yuriy", "Iurii", "Jury", "Jurij", "Iouri", "Juri"])
def test_every_romanisation_of_a_given_name_goes_with_the_surname(given: str) -> None:
    proposal = cleared(f"{given} Karpets was detained.")
    assert proposal.text == "Witness K-7 was detained."


def test_a_person_recorded_in_russian_is_found_in_belarusian_cases() -> None:
    forms = {f.casefold() for f in name_forms(KOVALEVA)}
    for form in (
        "Вольга",
        "Вольгі",
        "Вользе",
        "Вольгу",
        "Кавалёва",
        "Кавалёвай",
        "Кавалёву",
        "Volha",
        "Kavaliova",
    ):
        assert form.casefold() in forms


def test_a_surname_is_found_in_all_six_cases_of_both_genders() -> None:
    forms = {f.casefold() for f in name_forms(person("W", full_name="Сергей Ковалёв"))}
    masculine = ("Ковалёв", "Ковалёва", "Ковалёву", "Ковалёвым", "Ковалёве")
    feminine = ("Ковалёвой", "Ковалёву")
    assert {f.casefold() for f in masculine + feminine} <= forms


# ---- spelling: what a keyboard, an old orthography or a hostile typist does ------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "Ілля Шчэрба",
        "Iлля Шчэрба",  # a Latin I typed in a Cyrillic word
        "Илля Шчерба",  # Russian keyboard: и for і, е for э
        "Илья Щерба",
        "ІЛЛЯ ШЧЭРБА",
        "Ілля Шчэр\u00adба",  # soft hyphen from a word processor
        "Ілля Шчэ\u200bрба",  # zero-width space
        "Ілля Шчэ́рба",  # stress mark
    ],
)
def test_spelling_variants_of_a_name_are_one_name(variant: str) -> None:
    proposal = cleared(f"Сведка {variant} выйшаў з калоніі.")
    assert proposal.text == "Сведка Witness S-3 выйшаў з калоніі."


def test_yo_and_ye_and_classic_belarusian_spelling_meet() -> None:
    yarashuk = person("Activist T-5", name_be="Таццяна Ярашук")
    proposal = cleared("Ковалёва, Ковалева і Тацьцяна Ярашук.", [KOVALEVA, yarashuk])
    assert proposal.text == "Witness O-4, Witness O-4 і Activist T-5."


# ---- matching: whole words, longest run, initials -------------------------------------------------------------


def test_a_full_name_with_patronymic_is_one_change() -> None:
    proposal = cleared("Юрий Анатольевич Карпец подал жалобу.")
    assert proposal.text == "Witness K-7 подал жалобу."
    assert len(proposal.changes) == 1 and proposal.changes[0].confidence == "high"


@pytest.mark.parametrize("written", ["Ю. Карпец", "Карпец Ю.", "Ю. А. Карпец", "Карпец Ю.А.", "Ю.А.Карпец"])
def test_initials_go_with_the_surname(written: str) -> None:
    proposal = cleared(f"Подписал {written}")
    assert leaked(proposal, "Ю.", "Карпец") == [] and len(proposal.changes) == 1


def test_initials_of_someone_else_stay() -> None:
    proposal = cleared("Подписали Б. Карпец и А. Б. Иванов.")
    assert proposal.text == "Подписали Б. Witness K-7 и А. Б. Иванов."


@pytest.mark.parametrize(
    "text",
    ["Юридический отдел отказал.", "В Карпатах живут родственники.", "Жукоўскі прыйшоў.", "Ольгинская улица"],
)
def test_longer_words_that_start_like_a_name_stay(text: str) -> None:
    assert cleared(text).changes == ()


def test_an_english_possessive_keeps_its_s() -> None:
    assert cleared("Karpets's lawyer was not admitted.").text == "Witness K-7's lawyer was not admitted."


# ---- confidence: what the coordinator must look at -------------------------------------------------------------


def test_a_surname_that_is_a_common_word_is_replaced_but_flagged() -> None:
    proposal = cleared("Под скамейкой полз жук.")
    (change,) = proposal.changes
    assert proposal.text == "Под скамейкой полз Worker Z-2."
    assert change.confidence == "low" and change.reasons[0].startswith("also the common word")


def test_the_same_surname_with_the_given_name_is_certain() -> None:
    (change,) = cleared("Павла Жука задержали.").changes
    assert change.confidence == "high" and change.person_id == ZHUK.person_id


@pytest.mark.parametrize(
    ("text", "reason"), [("Ілля сказаў, што чакае.", "given name alone"), ("Юра позвонил.", "diminutive")]
)
def test_a_given_name_alone_is_replaced_but_flagged(text: str, reason: str) -> None:
    (change,) = cleared(text).changes
    assert change.confidence == "low" and change.reasons[0] == reason


def test_a_surname_two_people_share_is_flagged_and_the_full_name_decides() -> None:
    hanna = person("Witness H-9", name_be="Ганна Жук")
    proposal = cleared("Жука затрымалі, а Ганну Жук выклікалі.", [ZHUK, hanna])
    alone, full = proposal.changes
    assert alone.confidence == "low" and alone.reasons[-1] == "also fits Witness H-9"
    assert full.person_id == hanna.person_id and full.confidence == "high"


# ---- what a person's record holds ---------------------------------------------------------------------------


def test_every_identity_field_names_the_person() -> None:
    recorded = person(
        "Witness K-7",
        full_name="Юрий Карпец",
        name_latin="Yury Karpets",
        other_names=["Юрась", "Дядя Паша"],
    )
    proposal = cleared("Юрася бачылі з Дзядзькам Пашам, а Yury Karpets маўчаў. Дядя Паша пришёл.", [recorded])
    assert leaked(proposal, "Юрас", "Yury", "Karpets", "Дядя Паша") == []


def test_a_common_word_inside_a_nickname_stays_alone() -> None:
    recorded = person("Witness K-7", full_name="Юрий Карпец", other_names=["Дядя Паша"])
    assert cleared("Мой дядя работает на заводе.", [recorded]).changes == ()


def test_a_person_recorded_only_in_latin_is_found() -> None:
    recorded = person("Witness K-7", name_latin="Yury Karpets")
    assert cleared("Yury Karpets was detained.", [recorded]).text == "Witness K-7 was detained."


def test_nothing_to_clear_gives_the_text_back() -> None:
    assert cleared("", PEOPLE) == Proposal(text="", changes=())
    assert cleared("Юрий Карпец", []).text == "Юрий Карпец"
    assert cleared("Юрий Карпец", [person("Witness X", notes="no name recorded")]).text == "Юрий Карпец"


def test_one_proposer_serves_many_texts() -> None:
    proposer = Proposer(PEOPLE)
    assert proposer.propose("Юрия Карпца").text == "Witness K-7"
    assert proposer.propose("Іллі Шчэрбы").text == "Witness S-3"


def test_a_malformed_given_names_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "given_names.yaml"
    broken.write_text("version: 1\nnames:\n  - {gender: x, ru: [Юрий], be: [Юрый]}\n", encoding="utf-8")
    monkeypatch.setattr(equivalents, "_FILE", broken)
    equivalents.rows.cache_clear()
    try:
        with pytest.raises(equivalents.GivenNamesError, match="gender must be m or f"):
            equivalents.rows()
    finally:
        equivalents.rows.cache_clear()
