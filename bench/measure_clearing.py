"""Recall and precision of the clearing proposer per category and language, and its speed (issue 19).

Recall and precision come from tests/clearing/name_forms.yaml (the list the rules were developed with) and
tests/clearing/name_forms_heldout.yaml (written after, never used to change them); see tests/clearing/corpus.py
for how they are counted.

Speed: a 20 KB testimony (UTF-8) and 500 recorded people, made up deterministically from the given-names
table and common surname shapes. Building a person's name forms is the costly part and is cached per process
(keyed by the names), so three figures: building for people never seen (cold, in this fresh process), building
again (warm: what every later request pays), and proposing over the testimony once built.

    .venv/bin/python bench/measure_clearing.py [--people 500] [--kb 20] [--seed 19]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.clearing import equivalents  # noqa: E402
from api.clearing.names import PersonName, Proposer  # noqa: E402
from tests.clearing import corpus  # noqa: E402

STEMS = (
    "Карп Жук Шчэрб Кавал Ярош Малах Лукаш Бандар Новік Мароз Сцяпан Гайдук Раман Бабіч Грыцук Сідар Козл "
    "Сокал Дубаў Мельнік Кузьмін Макар Алешк Васілеўск Ціхан Бурак Шаўчук Бонд Гаўрыл Лявон Пашкев Міхалк"
).split()
ENDINGS = ("ец", "а", "ук", "оўскі", "еўскі", "енка", "ін", "іч", "ык", "ёў", "ак", "ель", "ко", "")
TEMPLATES = (
    "Следователь вызвал {0} на допрос, а потом {1} рассказал об этом в цеху. ",
    "Мы бачылі {0} каля прахадной, і {1} сказаў, што сход адмянілі. ",
    "The union says {0} was detained after {1} signed the appeal. ",
)


def synthetic_people(count: int, rng: random.Random) -> list[PersonName]:
    rows = equivalents.rows()
    people = []
    for i in range(count):
        row, father = rng.choice(rows), rng.choice(rows)
        lang = rng.choice(("ru", "be"))
        given = rng.choice(row.spellings[lang])
        patronymic = sorted(equivalents.patronymics(father, row.gender))[0].capitalize()
        surname = rng.choice(STEMS) + rng.choice(ENDINGS)
        people.append(
            PersonName.from_identity(
                person_id=uuid.UUID(int=rng.getrandbits(128)),
                pseudonym=f"Person P-{i}",
                identity={"full_name": f"{given} {patronymic} {surname}"},
            )
        )
    return people


def testimony(people: list[PersonName], kilobytes: int, rng: random.Random) -> str:
    _, sentences = corpus.load()
    plain = [s.text for s in sentences]
    text = ""
    while len(text.encode()) < kilobytes * 1000:
        first, second = rng.sample(people, 2)
        text += rng.choice(TEMPLATES).format(first.full_names[0], second.full_names[0].split()[-1])
        text += rng.choice(plain) + " "
    return text


def best_of(runs: int, action: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def speed(count: int, kilobytes: int, seed: int) -> None:
    rng = random.Random(seed)
    people = synthetic_people(count, rng)
    text = testimony(people, kilobytes, rng)
    start = time.perf_counter()
    proposer = Proposer(people)
    cold = time.perf_counter() - start
    warm = best_of(3, lambda: Proposer(people))
    propose = best_of(5, lambda: proposer.propose(text))
    changes = len(proposer.propose(text).changes)
    print(f"speed: {count} people, testimony {len(text.encode()) / 1000:.1f} KB ({len(text)} characters)")
    print(
        f"  build name forms, people never seen (cold)  {cold:7.3f} s  ({cold / count * 1000:.1f} ms a person)"
    )
    print(f"  build name forms again (warm, cached)       {warm:7.3f} s")
    print(f"  propose over the testimony                  {propose:7.3f} s  ({changes} changes)")
    print(f"  warm build + propose (a later request)      {warm + propose:7.3f} s")


def quality() -> None:
    for title, path in (("developed with", corpus.FILE), ("held out", corpus.HELD_OUT)):
        report = corpus.measure(*corpus.load(path))
        print(f"\n{path.name} ({title})")
        print(corpus.summary(report))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--kb", type=int, default=20)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    speed(args.people, args.kb, args.seed)  # first, so that "cold" is cold
    quality()


if __name__ == "__main__":
    main()
