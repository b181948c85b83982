"""The Belarusian (and Ukrainian-like) ending rules, the Russian/Belarusian respelling and the romanisations.

Each case lists forms a Belarusian or Ukrainian testimony really writes; a form the rules miss is a name
that leaves uncleared.
"""

from __future__ import annotations

import pytest

from api.clearing.declension import case_forms, to_belarusian, to_russian
from api.clearing.latin import latin_forms
from api.clearing.normalise import fold, words


@pytest.mark.parametrize(
    ("nominative", "surname", "written"),
    [
        # -ец with the vowel dropping: Карпец -> Карпца (be, ru), Карпцом; and the Ukrainian Карпцеві.
        ("Карпец", True, ["Карпца", "Карпцу", "Карпцом", "Карпцы", "Карпцеві"]),
        # -ер after ц/дз: the е drops and ц is т again.
        ("Зміцер", False, ["Змітра", "Змітру", "Змітрам"]),
        # -ел: Павел -> Паўла (be), Павла (ru), Паўлам.
        ("Павел", False, ["Паўла", "Павла", "Паўлу", "Паўлам", "Павлом", "Паўле"]),
        # hard -а, masculine: dative and locative in -у (помнік Янку Купалу), instrumental -ам.
        ("Шчэрба", True, ["Шчэрбы", "Шчэрбе", "Шчэрбу", "Шчэрбам", "Шчэрбай", "Шчэрбою"]),
        # -а after г/к/х: Вольга -> Вользе, Наталка -> Наталцы.
        ("Вольга", False, ["Вольгі", "Вользе", "Вольгу", "Вольгай", "Вольгаю"]),
        ("Наталка", False, ["Наталкі", "Наталцы", "Наталку", "Наталкай"]),
        # -ка surnames (Belarusian decline them, Russian -ко do not).
        ("Бандарэнка", True, ["Бандарэнкі", "Бандарэнку", "Бандарэнкам"]),
        ("Бондаренко", True, ["Бондаренка", "Бондаренку", "Бондаренком", "Бондаренкові"]),
        # soft -я, both genders: Ілля, Наталля, Марыя.
        ("Ілля", False, ["Іллі", "Іллю", "Іллём", "Іллёю"]),
        ("Наталля", False, ["Наталлі", "Наталлю", "Наталляй", "Наталляю"]),
        ("Марыя", False, ["Марыі", "Марыю", "Марыяй"]),
        # -ь and -й: Алесь, Мікалай, -ый / -ій given names.
        ("Алесь", False, ["Алеся", "Алесю", "Алесем"]),
        ("Мікалай", False, ["Мікалая", "Мікалаю", "Мікалаем"]),
        ("Юрый", False, ["Юрыя", "Юрыю", "Юрыем", "Юрыі"]),
        ("Юрій", False, ["Юрія", "Юрію", "Юрієм", "Юрієві"]),
        # -ей with the е dropping: Верабей -> Вераб'я.
        ("Верабей", True, ["Вераб'я", "Вераб'ю", "Вераб'ём"]),
        # -іч / -віч, surnames and patronymics.
        ("Шушкевіч", True, ["Шушкевіча", "Шушкевічу", "Шушкевічам"]),
        ("Мікалаевіч", False, ["Мікалаевіча", "Мікалаевічу", "Мікалаевічам"]),
        ("Анатольеўна", False, ["Анатольеўны", "Анатольеўне", "Анатольеўну", "Анатольеўнай"]),
        # adjectival -скі / -цкі / -ская, both genders; and the Russian -ский, Ukrainian -ський.
        ("Бяляцкі", True, ["Бяляцкага", "Бяляцкаму", "Бяляцкім", "Бяляцкая", "Бяляцкай", "Бяляцкую"]),
        ("Ціханоўская", True, ["Ціханоўскі", "Ціханоўскага", "Ціханоўскай", "Ціханоўскую"]),
        # possessive -оў / -ёў / -ін and their feminine -ова / -ёва / -іна.
        ("Кавалёў", True, ["Кавалёва", "Кавалёву", "Кавалёвым", "Кавалёвай", "Кавалёваю"]),
        ("Навікава", True, ["Навікаў", "Навікавай", "Навікаву", "Навікавым"]),
        # Ukrainian -о names: Петро.
        ("Петро", False, ["Петра", "Петру", "Петрові", "Петром"]),
    ],
)
def test_the_rules_give_the_forms_testimonies_write(
    nominative: str, surname: bool, written: list[str]
) -> None:
    forms = {fold(f) for f in case_forms(nominative, surname=surname)}
    assert [w for w in written if fold(w) not in forms] == []


def test_a_womans_surname_in_a_consonant_keeps_its_nominative() -> None:
    assert "ярашук" in case_forms("Ярашук", surname=True)


@pytest.mark.parametrize(
    ("russian", "belarusian"),
    [
        ("Ковалёв", "кавалёў"),
        ("Щерба", "шчэрба"),
        ("Тихановский", "ціханоўскі"),
        ("Бондаренко", "бандарэнка"),
        ("Колесникова", "калеснікава"),
        ("Лукашевич", "лукашэвіч"),
    ],
)
def test_a_russian_surname_is_respelt_in_belarusian(russian: str, belarusian: str) -> None:
    assert belarusian in to_belarusian(russian)


@pytest.mark.parametrize(
    ("belarusian", "russian"),
    [
        ("Кавалёва", "ковалёва"),
        ("Шчэрба", "щерба"),
        ("Ціханоўскі", "тихановский"),
        ("Бандарэнка", "бондаренко"),
    ],
)
def test_a_belarusian_surname_is_respelt_in_russian(belarusian: str, russian: str) -> None:
    assert russian in to_russian(belarusian)


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Шчэрба", ["Shcherba", "Ščerba", "Szczerba"]),
        ("Щерба", ["Shcherba", "Shherba", "Schtscherba"]),
        ("Карпец", ["Karpets", "Karpec", "Karpiec", "Karpez"]),
        ("Юрий", ["Yury", "Yuri", "Yuriy", "Iurii", "Jurij", "Iouri"]),
        ("Юрый", ["Jury", "Juryj", "Yury", "Iury"]),
        ("Сяргей", ["Siarhei", "Siarhiej", "Syarhey"]),
        ("Таццяна", ["Tatsiana", "Tacciana", "Tatstsiana"]),
        ("Ковалёва", ["Kovaleva", "Kovalyova", "Kovaliova"]),
    ],
)
def test_a_name_is_romanised_every_common_way(cyrillic: str, latin: list[str]) -> None:
    forms = {fold(f) for f in latin_forms(cyrillic)}
    assert [f for f in latin if fold(f) not in forms] == []


def test_words_keep_their_place_in_the_original_text() -> None:
    text = "Аб Iлля Шчэр\u00adбу — Shcherba's."
    assert [(w.key, text[w.start : w.end]) for w in words(text)] == [
        ("аб", "Аб"),
        ("илля", "Iлля"),
        ("шчербу", "Шчэр\u00adбу"),
        ("shcherba", "Shcherba"),
    ]
