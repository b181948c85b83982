"""A varied set of cases built through the API, and a brute-force model of it for the search tests to compare with."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, involve, ok

CANARY = "Канарэйка Сцяпанаўна Тэставая"


@dataclass
class Victim:
    person: str  # key into World.people
    status: str | None


@dataclass
class Spec:
    title: str
    owner: str = "documenter"
    occurred_from: str = "2022-04-19"
    occurred_to: str | None = None
    date_precision: str | None = None
    country: str = "BY"
    region: str | None = None
    place: str | None = None
    employer: str | None = None
    sector: str | None = None
    status: str = "submitted"
    confidentiality: str = "internal"
    urgent: bool = False
    language: str | None = None
    tags: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    summary: str = ""
    narrative: str = ""
    victims: list[Victim] = field(default_factory=list)
    others: list[tuple[str, str]] = field(default_factory=list)  # (person key, role)
    employer_org: bool = False  # the employer organisation is involved as perpetrator
    testimonies: list[tuple[str, str]] = field(default_factory=list)  # (language, text)
    retracted_testimony: str | None = None
    retracted: bool = False
    assigned: bool = False  # documenter2 is assigned


SPECS = [
    Spec(
        "Арышт старшыні прафсаюза на Гродна Азоце",
        occurred_from="2021-03-15",
        region="Гродзенская вобласць",
        place="Гродна",
        employer="Гродна Азот",
        sector="хімічная прамысловасць",
        status="verified",
        urgent=True,
        language="be",
        tags=["strike", "arrest"],
        categories=["A.LIB.ARREST"],
        summary="Старшыню затрымалі пасля сходу; потым ён быў звольнены.",
        victims=[Victim("ales", "detained"), Victim("shared", "sentenced")],
        others=[("wit", "witness")],
        employer_org=True,
        testimonies=[("be", "Мяне звольнілі, а Алеся звольнены таксама. Яго затрымалі ля прахадной.")],
    ),
    Spec(
        "Увольнение членов профсоюза на Беларуськалии",
        occurred_from="2021-04",
        region="Минская область",
        place="Солигорск",
        employer="Беларуськалий",
        sector="горнодобывающая",
        language="ru",
        tags=["dismissal"],
        categories=["C.DIS.DISMISSAL"],
        summary="Пятеро членов <script>alert(1)</script> независимого профсоюза уволены за участие в забастовке.",
        victims=[Victim("v1", "dismissed"), Victim("v2", "dismissed"), Victim("v3", "forbidden_workplace")],
        testimonies=[("ru", "Меня уволили без объяснения причин, сказали: «Вы знаете за что».")],
    ),
    Spec(
        "Union leader sentenced for 'extremism'",
        occurred_from="2020",
        region="Minsk Region",
        employer="Belaruskali",
        status="verified",
        language="en",
        tags=["arrest", "trial"],
        categories=["A.LIB.CRIMINAL", "A.DUE.EXTREMIST"],
        narrative="The court sentenced the union leader to four years. He was dismissed before the trial.",
        victims=[Victim("shared", "sentenced")],
        testimonies=[("en", "I saw them take him away from the plant gate.")],
    ),
    Spec(
        "Затрыманне ў Мінску",
        occurred_from="2021-06-10",
        occurred_to="2021-06-25",
        region="Мінская вобласць",
        place="Мінск",
        employer="МТЗ",
        status="draft",
        confidentiality="restricted",
        language="be",
        tags=["arrest"],
        categories=["A.LIB.PRETRIAL"],
        victims=[Victim("v4", "detained")],
        testimonies=[("be", "Сакрэтнае сведчанне пра затрыманне.")],
    ),
    Spec(
        "Approximate raid on the union office",
        occurred_from="2019-12-20",
        date_precision="approximate",
        country="LT",
        region="Vilnius County",
        place="Vilnius",
        employer="BKDP office",
        language="en",
        tags=["raid"],
        categories=["A.PROP"],
        narrative="Documents seized; AND OR NEAR( words appear here literally.",
        victims=[Victim("group", None)],
    ),
    Spec(
        "Відэаназіранне за актывістамі",
        owner="documenter2",
        occurred_from="2022",
        region="Гомельская вобласць",
        employer="Гомсельмаш",
        sector="машынабудаванне",
        status="submitted",
        language="be",
        categories=["A.INT.SURVEIL"],
        summary="Актывістаў здымалі на відэа на кожным сходзе.",
        victims=[Victim("v5", "under_investigation")],
    ),
    Spec(
        "Assigned case of documenter2",
        owner="documenter",
        assigned=True,
        occurred_from="2023-01-05",
        region="minsk region",
        employer="MAZ",
        status="archived",
        confidentiality="public",
        tags=["strike"],
        categories=["E.STR", "C.DIS.NONRENEWAL"],
        victims=[Victim("v6", "released"), Victim("v7", "exiled"), Victim("ales", "released")],
    ),
    Spec(
        "Restricted case by the coordinator",
        owner="coordinator",
        occurred_from="2021-09",
        region="Брэсцкая вобласць",
        employer="Гродна Азот",
        confidentiality="restricted",
        urgent=True,
        tags=["arrest", "strike"],
        categories=["A.LIB.ARREST", "C.DIS.DISMISSAL"],
        summary="Яго звольнены брат таксама пацярпеў.",
        victims=[Victim("v8", "detained")],
    ),
    Spec(
        "Percent 100% and under_score case",
        occurred_from="2018-02-28",
        employer="ОАО «Нафтан»",
        sector="нафтахімія",
        language="ru",
        categories=["B.DIS.ADMIN"],
        summary="Штраф 100% от зарплаты; слово under_score.",
        victims=[Victim("v9", "fined")],
        retracted_testimony="Выдаленае сведчанне з унікальным словам кракадзіл.",
    ),
    Spec(
        "Retracted duplicate mentioning звольнены",
        occurred_from="2021-03-15",
        region="Гродзенская вобласць",
        employer="Гродна Азот",
        tags=["strike", "arrest"],
        categories=["A.LIB.ARREST"],
        victims=[Victim("v10", "detained")],
        retracted=True,
    ),
    Spec(
        "Ёлка: затрымалі ў студзені",
        occurred_from="2024-01-02",
        occurred_to="2024-01-03",
        region="ГРОДЗЕНСКАЯ ВОБЛАСЦЬ",
        employer="гродна азот",
        language="be",
        tags=["arrest"],
        categories=["A.LIB.ADMIN"],
        narrative="Затрыманне на Ёлку, 15 сутак.",
        victims=[Victim("v11", "detained"), Victim("v12", "on_trial")],
    ),
]


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold().replace("ё", "е")


def words(*texts: str | None) -> set[str]:
    return {fold(w) for t in texts if t for w in re.findall(r"[^\W_]+", t)}


@dataclass
class Built:
    spec: Spec
    id: str
    earliest: date
    latest: date
    created_by: str


@dataclass
class World:
    cases: list[Built]
    people: dict[str, str]
    union: str
    employer_org: str
    accounts: dict[str, Account]

    def visible_to(self, who: str) -> list[Built]:
        account = self.accounts[who]
        out = []
        for case in self.cases:
            if case.spec.retracted:
                continue
            own = case.created_by == str(account.user_id) or (who == "documenter2" and case.spec.assigned)
            if who in ("admin", "coordinator"):
                out.append(case)
            elif who == "researcher":
                if case.spec.confidentiality != "restricted":
                    out.append(case)
            elif own:
                out.append(case)
        return out

    def victims(self, case: Built) -> list[tuple[str, str | None]]:
        return [(self.people[v.person], v.status) for v in case.spec.victims]


def build_world(client: TestClient, accounts: dict[str, Account]) -> World:
    who = accounts
    union = ok(
        client.post(
            f"{API}/organisations", json={"name": "BKDP", "kind": "union"}, headers=who["admin"].headers
        ),
        201,
    )["id"]
    employer_org = ok(
        client.post(
            f"{API}/organisations",
            json={"name": "Гродна Азот", "kind": "employer"},
            headers=who["admin"].headers,
        ),
        201,
    )["id"]
    people: dict[str, str] = {}
    members = {"ales", "shared", "v1", "v6"}

    def person(key: str, owner: Account) -> str:
        """Each person is recorded by the documenter of the first case naming them (so they can see them)."""
        if key not in people:
            fields: dict[str, Any] = {
                "pseudonym": f"Person {key}",
                "identity": {"full_name": f"{CANARY} {key}"},
            }
            if key in members:
                fields["organisation_id"] = union
            if key == "group":
                fields |= {"counting_unit": "group", "group_size": 12}
            people[key] = create_person(client, owner, **fields)["id"]
        return people[key]

    built = []
    for spec in SPECS:
        owner = who[spec.owner]
        fields: dict[str, Any] = {
            "title": spec.title,
            "summary": spec.summary,
            "narrative": spec.narrative,
            "occurred_from": spec.occurred_from,
            "country": spec.country,
            "status": spec.status,
            "confidentiality": spec.confidentiality,
            "urgent": spec.urgent,
            "tags": spec.tags,
            "categories": spec.categories,
        }
        if spec.urgent:
            fields["urgency_reason"] = "personal freedom"
        for name in ("occurred_to", "date_precision", "region", "place", "employer", "sector", "language"):
            if getattr(spec, name) is not None:
                fields[name] = getattr(spec, name)
        if spec.date_precision is None:  # implied by the date's form: 2020, 2021-04, 2021-03-15
            fields["date_precision"] = {4: "year", 7: "month"}.get(len(spec.occurred_from), "day")
        case = create_case(client, owner, **fields)
        cid = case["id"]
        for victim in spec.victims:
            body: dict[str, Any] = {"person_id": person(victim.person, owner), "role": "victim"}
            if victim.status:
                body["victim_status"] = victim.status
            involve(client, owner, cid, **body)
        for key, role in spec.others:
            involve(client, owner, cid, person_id=person(key, owner), role=role)
        if spec.employer_org:
            involve(client, owner, cid, organisation_id=employer_org, role="perpetrator")
        source = person(f"source-{spec.owner}", owner)
        for language, text in spec.testimonies:
            add_testimony(client, owner, cid, source, language=language, text=text)
        if spec.retracted_testimony:
            t = add_testimony(client, owner, cid, source, language="be", text=spec.retracted_testimony)
            url = f"{API}/cases/{cid}/testimonies/{t['id']}"
            etag = client.get(url, headers=owner.headers).headers["ETag"]
            ok(
                client.post(
                    f"{url}/retract", json={"reason": "wrong"}, headers={**owner.headers, "If-Match": etag}
                )
            )
        if spec.assigned:
            ok(
                client.post(
                    f"{API}/cases/{cid}/assignments",
                    json={"user_id": str(who["documenter2"].user_id)},
                    headers=who["coordinator"].headers,
                ),
                201,
            )
        if spec.retracted:
            etag = client.get(f"{API}/cases/{cid}", headers=owner.headers).headers["ETag"]
            ok(
                client.post(
                    f"{API}/cases/{cid}/retract",
                    json={"reason": "duplicate"},
                    headers={**owner.headers, "If-Match": etag},
                )
            )
        built.append(
            Built(
                spec,
                cid,
                date.fromisoformat(case["earliest"]),
                date.fromisoformat(case["latest"]),
                case["created_by"],
            )
        )
    return World(built, people, union, employer_org, accounts)


def fetch_all(
    client: TestClient, who: Account, params: dict[str, Any], *, limit: int = 3
) -> tuple[list[str], int]:
    """Walk every page; return the ids in order and the total, checking the total is the same on every page."""
    ids: list[str] = []
    totals = set()
    cursor = None
    for _ in range(100):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(f"{API}/cases", params=query, headers=who.headers))
        ids += [item["id"] for item in page["items"]]
        totals.add(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(totals) == 1, totals
    return ids, totals.pop()
