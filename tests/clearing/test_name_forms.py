"""Recall and precision of the clearing proposer over the measured lists of name forms.

Run with -s to see the figures per category and language, every missed form and every over-redaction.
"""

from __future__ import annotations

from tests.clearing import corpus

CATEGORIES = {
    "nominative",
    "genitive",
    "dative",
    "accusative",
    "instrumental",
    "prepositional",
    "surname_only",
    "initials",
    "given_patronymic",
    "yo_e",
    "belarusian_variant",
    "latin",
}


def test_the_list_is_wide_enough_to_measure_anything() -> None:
    people, sentences = corpus.load()
    mentions = [m for s in sentences for m in s.mentions]
    assert len(mentions) >= 200
    assert len({m.person for m in mentions}) >= 8
    assert {m.person for m in mentions} <= set(people)
    assert {m.category for m in mentions} >= CATEGORIES
    assert {s.lang for s in sentences} == {"be", "ru", "en"}
    assert sum(not s.mentions for s in sentences) >= 20, "sentences without names measure precision"


def test_a_hostile_reader_finds_at_most_two_percent_of_the_name_forms() -> None:
    report = corpus.measure(*corpus.load())
    print("\nname_forms.yaml\n" + corpus.summary(report))  # noqa: T201
    assert report.total.recall >= 0.98, report.total.missed
    assert report.total.attributed >= 0.98 * report.total.mentions, "the wrong pseudonym misleads the reader"
    assert report.precision >= 0.95, report.false_changes


def test_names_the_rules_were_not_written_against_are_found_too() -> None:
    report = corpus.measure(*corpus.load(corpus.HELD_OUT))
    print("\nname_forms_heldout.yaml\n" + corpus.summary(report))  # noqa: T201
    assert report.total.mentions >= 60
    assert report.total.recall >= 0.95, report.total.missed
