"""Generate synthetic cases and load them in bulk: one transaction per batch, executemany or PostgreSQL COPY.

Rows are built the way the create paths build them (api/cases, api/people, api/involvements,
api/testimonies): the same derived date interval, reference numbers issued from ReferenceCounter, audit
columns, version 1, and one `create` revision per record so the history reads like hand-entered data.
Everything random comes from one `random.Random(seed)`, so the same seed on an empty database gives the
same rows, identifiers included.
"""

from __future__ import annotations

import bisect
import itertools
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from api.auth import service as auth_service
from api.auth.security import Actor
from api.cases import dates
from api.cases.service import _SCALAR_FIELDS as CASE_FIELDS
from api.db import Database
from api.demo import data
from api.involvements.service import _FIELDS as INVOLVEMENT_FIELDS
from api.models import (
    Case,
    CaseCategory,
    CaseTag,
    CaseText,
    Involvement,
    Organisation,
    Person,
    ReferenceCounter,
    Revision,
    Testimony,
    User,
    VocabularyTerm,
)
from api.people import service as people_service
from api.people.service import _PERSON_FIELDS as PERSON_FIELDS
from api.records import json_value
from api.sealing import Sealer
from api.search.index import (
    VICTIM_STATUS_BIT,
    case_folds,
    case_row,
    category_signature,
    rebuild_person_facets,
    rebuild_victim_ids,
    status_signature,
    testimony_row,
)
from api.search.text import word_seal
from api.taxonomy import service as taxonomy_service
from api.testimonies import texts as testimony_texts
from api.testimonies.service import _FIELDS as TESTIMONY_FIELDS
from api.testimonies.texts import TestimonyWords
from api.text import fold
from schemas.enums import (
    HELD_STATUSES,
    CaseStatus,
    Confidentiality,
    DatePrecision,
    OrganisationKind,
    Reliability,
    Role,
    VictimStatus,
)
from schemas.person import OrganisationCreate

T = TypeVar("T")

DEMO_DOCUMENTERS = [f"demo-documenter-{n}" for n in range(1, 6)]
DEMO_COORDINATOR = "demo-coordinator"
REVISION_REASON = "synthetic demo data (precedent demo seed)"
FIRST_DAY = date(2016, 1, 1)
LAST_DAY = date(2025, 12, 31)
# Records are entered some weeks after the event, but never after this day (keeps a seed reproducible).
LAST_ENTRY = datetime(2026, 6, 30, 18, 0, tzinfo=UTC)

# HURIDOCS codes used on generated rows; checked against the loaded vocabularies before loading.
_LOCATION_BY_AREA = {
    "A": ["030500000000", "090400000000", "030701000000", "010200000000", "060000000000"],
    "B": ["050200000000", "030703000000", "030701000000"],
    "C": ["010200000000", "020600000000"],
    "D": ["020600000000", "010200000000"],
    "E": ["020600000000", "060000000000", "030701000000"],
    "F": ["090200000000", "030600000000", "020600000000"],
    "G": ["020600000000", "010200000000"],
}
_VIOLATION_STATUS = ["010100000000", "040000000000", "030000000000", "990000000000"]
_DETENTION_ADMIN = "010000000000"
_DETENTION_POLITICAL = ["030000000000", "060000000000"]

# case_text is the search index, written with each batch (api.search.index builds its rows the same way).
_TABLES = [Person, Case, CaseCategory, CaseTag, Involvement, Testimony, CaseText, Revision]


class DemoError(Exception):
    """The database is not ready for demo data (no taxonomy, missing vocabulary terms)."""


@dataclass
class SeedReport:
    cases: int
    rows: Counter[str]
    seconds: float
    text_index: str
    analyze_seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


class _Weighted:
    """Fast repeated weighted choice (bisect on cumulative weights)."""

    def __init__(self, items: dict[Any, int] | Sequence[tuple[Any, int]]) -> None:
        pairs = list(items.items()) if isinstance(items, dict) else list(items)
        pairs = [(k, w) for k, w in pairs if w > 0]
        self.items = [k for k, _ in pairs]
        self.cum = list(itertools.accumulate(w for _, w in pairs))

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


@dataclass
class _Batch:
    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {t.__table__.name: [] for t in _TABLES}  # type: ignore[attr-defined]
    )
    # The creation year of each case, in order: its reference number is issued when the batch is written.
    case_years: list[int] = field(default_factory=list)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows[table].append(row)


@dataclass(frozen=True)
class _Context:
    leaves: list[str]
    urgent_leaves: frozenset[str]
    documenters: list[uuid.UUID]
    unions: list[uuid.UUID]
    employers: dict[str, uuid.UUID]
    state_bodies: list[tuple[uuid.UUID, str, str]]  # id, kind, perpetrator type
    existing_cases: int = 0


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _plain(value: Any) -> Any:
    """json_value, with a fast path for the scalar types most columns hold."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, uuid.UUID) or (isinstance(value, date) and not isinstance(value, datetime)):
        return str(value)
    return json_value(value)


def _revision(
    entity: str, row: dict[str, Any], fields: list[str], case_id: uuid.UUID | None
) -> dict[str, Any]:
    changes = {name: {"before": None, "after": _plain(row[name])} for name in fields}
    return {
        "entity_type": entity,
        "entity_id": row["id"],
        "case_id": case_id,
        "version": 1,
        "action": "create",
        "actor_id": row["created_by"],
        "at": row["created_at"],
        "changes": changes,
        "sealed_identity": None,
        "reason": REVISION_REASON,
    }


def _audit(user: uuid.UUID, at: datetime) -> dict[str, Any]:
    return {
        "created_by": user,
        "created_at": at,
        "updated_by": user,
        "updated_at": at,
        "version": 1,
        "retracted_at": None,
        "retracted_by": None,
        "retraction_reason": None,
    }


class Generator:
    """Make the rows of synthetic cases, deterministically from a seed."""

    def __init__(self, ctx: _Context, *, seed: int, history: bool, sealer: Sealer) -> None:
        self.ctx = ctx
        self.sealer = sealer
        self.words = word_seal(sealer)
        # The number of cases already there is part of the seed: seeding again adds new cases, not clashes.
        self.rng = random.Random(f"precedent-demo:{seed}:{ctx.existing_cases}")  # noqa: S311 (not secrets)
        self.history = history
        rng = self.rng
        # Skew: shuffle the leaves, then give them Zipf-like weights, heavier in the civil-liberties area.
        leaves = sorted(ctx.leaves)
        rng.shuffle(leaves)
        self.leaf = _Weighted(
            [
                (code, int(1000 / (rank + 1) ** 0.7) * (3 if code.startswith("A.") else 1))
                for rank, code in enumerate(leaves)
            ]
        )
        self.year = _Weighted(data.YEAR_WEIGHTS)
        self.country = _Weighted(data.COUNTRY_WEIGHTS)
        self.region = _Weighted(data.REGION_WEIGHTS)
        self.employer = _Weighted([(e, e.weight) for e in data.EMPLOYERS])
        self.language = _Weighted({"ru": 45, "be": 35, "en": 20})
        self.precision = _Weighted(
            {
                DatePrecision.DAY: 60,
                DatePrecision.MONTH: 20,
                DatePrecision.YEAR: 10,
                DatePrecision.APPROXIMATE: 10,
            }
        )
        self.status = _Weighted(
            {
                CaseStatus.VERIFIED.value: 50,
                CaseStatus.SUBMITTED.value: 30,
                CaseStatus.DRAFT.value: 10,
                CaseStatus.ARCHIVED.value: 10,
            }
        )
        self.confidentiality = _Weighted(
            {
                Confidentiality.INTERNAL.value: 60,
                Confidentiality.PUBLIC.value: 30,
                Confidentiality.RESTRICTED.value: 10,
            }
        )
        self.victims = _Weighted({0: 5, 1: 68, 2: 14, 3: 6, 4: 3, 6: 2, 10: 1, 25: 1})
        self.testimonies = _Weighted({0: 40, 1: 45, 2: 15})
        self.reliability = _Weighted(
            {
                Reliability.LIKELY_RELIABLE.value: 45,
                Reliability.HIGHLY_RELIABLE.value: 25,
                Reliability.UNSURE.value: 20,
                Reliability.UNKNOWN.value: 10,
            }
        )
        self.outcomes = {k: _Weighted(v) for k, v in data.VICTIM_OUTCOMES.items()}
        self.recent_people: list[uuid.UUID] = []
        self.text_rows: dict[tuple[str, int, bool], dict[str, Any]] = {}

    # ---- one case ---------------------------------------------------------------------------------------

    def _event_dates(self) -> tuple[DatePrecision, date, date | None]:
        rng = self.rng
        year = self.year.pick(rng)
        start = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        precision: DatePrecision = self.precision.pick(rng)
        end: date | None = None
        if rng.random() < 0.15:  # an event that lasted: a strike, a trial, a detention
            end = min(start + timedelta(days=rng.randrange(1, 120)), LAST_DAY)
        if precision is DatePrecision.YEAR and end is not None and rng.random() < 0.7:
            end = None
        start = dates.normalise(start, precision)
        end = dates.normalise(end, precision) if end is not None else None
        if end is not None and end <= start:
            end = None
        return precision, start, end

    def _place(self) -> tuple[str, str | None, str | None, data.Employer | None]:
        rng = self.rng
        country = self.country.pick(rng)
        if country != "BY":
            region, places = data.ABROAD[country]
            return country, region, rng.choice(places), None
        employer = self.employer.pick(rng) if rng.random() < 0.85 else None
        if employer is not None and rng.random() < 0.8:
            return country, employer.region, employer.place, employer
        region = self.region.pick(rng)
        return country, region, rng.choice(data.REGION_PLACES[region]), employer

    def _victim_status(self, leaf: str, year: int) -> str:
        rng = self.rng
        group = ".".join(leaf.split(".")[:2])
        chooser = self.outcomes.get(group) or self.outcomes[leaf[0]]
        status: str = chooser.pick(rng)
        # Most people detained long ago are out by now.
        if year <= 2019 and VictimStatus(status) in HELD_STATUSES and rng.random() < 0.7:
            status = VictimStatus.RELEASED.value
        return status

    def _person(
        self, batch: _Batch, *, language: str, user: uuid.UUID, at: datetime, status: str | None
    ) -> uuid.UUID:
        rng = self.rng
        if self.recent_people and rng.random() < 0.08:  # the same activist, persecuted again
            return rng.choice(self.recent_people)
        name = f"{rng.choice(data.FIRST_NAMES[language])} {rng.choice(data.INITIALS[language])}."
        if status is not None and VictimStatus(status) in HELD_STATUSES:
            risk = "detained"
        elif status == VictimStatus.EXILED.value:
            risk = "exiled"
        else:
            risk = rng.choice(["in_country", "in_country", "exiled", "unknown"])
        row = {
            "id": _uuid(rng),
            "pseudonym": name,
            "pseudonym_fold": fold(name),
            "counting_unit": "individual",
            "group_size": None,
            "risk_status": risk,
            "relatives_in_country": None,
            "risk_reviewed_on": None,
            "organisation_id": rng.choice(self.ctx.unions) if rng.random() < 0.6 else None,
            "occupation": rng.choice(data.OCCUPATIONS),
            **_audit(user, at),
        }
        batch.add("person", row)
        if self.history:
            batch.add("revision", _revision("person", row, PERSON_FIELDS, None))
        if len(self.recent_people) < 5000:
            self.recent_people.append(row["id"])
        else:
            self.recent_people[rng.randrange(5000)] = row["id"]
        return row["id"]  # type: ignore[no-any-return]

    def _involvement(self, batch: _Batch, case: dict[str, Any], **values: Any) -> None:
        row = {
            "id": _uuid(self.rng),
            "case_id": case["id"],
            "person_id": None,
            "organisation_id": None,
            "role": "victim",
            "victim_status": None,
            "perpetrator_type": None,
            "detention_type": None,
            "description": None,
            **_audit(case["created_by"], case["created_at"]),
        }
        row.update(values)
        batch.add("involvement", row)
        # The case's search facets, as api.search.index.refresh_victims keeps them; victim_ids (who is a victim
        # in other cases too) once every batch is in (_finish_index).
        if row["role"] == "victim":
            case["victims"] += 1
            case["victim_people"] += int(row["person_id"] is not None)
            if row["victim_status"]:
                case["victim_mask"] |= VICTIM_STATUS_BIT[row["victim_status"]]
            case["victim_statuses"] = status_signature(
                [(row["victim_status"], row["person_id"] is not None)], case["victim_statuses"]
            )
        if self.history:
            batch.add("revision", _revision("involvement", row, INVOLVEMENT_FIELDS, case["id"]))

    def add_case(self, batch: _Batch) -> None:
        rng, ctx = self.rng, self.ctx
        leaf = self.leaf.pick(rng)
        area = leaf[0]
        precision, occurred_from, occurred_to = self._event_dates()
        lo, hi = dates.window(occurred_from, occurred_to, precision)
        country, region, place, employer = self._place()
        language = self.language.pick(rng)
        user = rng.choice(ctx.documenters)
        created_at = min(
            datetime.combine(max(hi, occurred_from), datetime.min.time(), UTC)
            + timedelta(days=rng.randrange(3, 200), seconds=rng.randrange(86400)),
            LAST_ENTRY - timedelta(seconds=rng.randrange(86400 * 30)),
        )
        employer_name = employer.name if employer else None
        title = rng.choice(data.TITLES[area][language]).format(
            e=employer_name
            or {"be": "прадпрыемства", "ru": "предприятия", "en": "a state enterprise"}[language],
            p=place or region or country,
        )
        sentences = rng.sample(data.SUMMARIES[language], 3)
        urgent = leaf in ctx.urgent_leaves and rng.random() < 0.3
        case = {
            "id": _uuid(rng),
            "reference": None,  # issued when the batch is written
            "title": title,
            "summary": sentences[0],
            "narrative": " ".join(sentences),
            "occurred_from": occurred_from,
            "occurred_to": occurred_to,
            "date_precision": precision.value,
            "date_lo": lo,
            "date_hi": hi,
            "country": country,
            "region": region,
            "place": place,
            "employer": employer_name,
            "sector": employer.sector if employer else None,
            "status": self.status.pick(rng),
            "confidentiality": self.confidentiality.pick(rng),
            "urgent": urgent,
            "urgency_reason": rng.choice(data.URGENCY_REASONS) if urgent else None,
            "language": language,
            "primary_category": leaf,
            "location_type": rng.choice(_LOCATION_BY_AREA[area]),
            "violation_status": rng.choice(_VIOLATION_STATUS),
            **_audit(user, created_at),
            "victims": 0,
            "victim_mask": 0,
            "victim_people": 0,
            "victim_statuses": "",
            "victim_ids": "",
        }
        case |= case_folds(SimpleNamespace(**case))
        codes = [leaf]
        if rng.random() < 0.15:
            other = self.leaf.pick(rng)
            if other != leaf:
                codes.append(other)
        case["category_codes"] = category_signature(codes)
        batch.add("case_text", case_row(SimpleNamespace(**case)))
        tags = sorted(set(rng.sample(data.TAGS, rng.choice([0, 0, 1, 1, 2]))))
        batch.add("case_record", case)
        batch.case_years.append(created_at.year)
        for code in codes:
            batch.add(
                "case_category",
                {
                    "case_id": case["id"],
                    "code": code,
                    "is_primary": code == leaf,
                    "created_at": case["created_at"],
                },
            )
        for tag in tags:
            batch.add("case_tag", {"case_id": case["id"], "tag": tag})
        if self.history:
            revision = _revision("case", case, [*CASE_FIELDS], case["id"])
            revision["changes"] |= {
                "categories": {"before": None, "after": codes},
                "primary_category": {"before": None, "after": leaf},
                "tags": {"before": None, "after": tags},
            }
            batch.add("revision", revision)  # the reference is added when it is issued

        # People: victims with what happened to them, the perpetrator, sources of testimonies.
        victims: list[uuid.UUID] = []
        for _ in range(self.victims.pick(rng)):
            status = self._victim_status(leaf, occurred_from.year)
            person = self._person(batch, language=language, user=user, at=created_at, status=status)
            if person in victims:
                continue
            victims.append(person)
            detention = None
            if VictimStatus(status) in HELD_STATUSES:
                detention = _DETENTION_ADMIN if leaf == "A.LIB.ADMIN" else rng.choice(_DETENTION_POLITICAL)
            self._involvement(batch, case, person_id=person, victim_status=status, detention_type=detention)
        if area == "B" or not victims:
            self._involvement(batch, case, organisation_id=rng.choice(ctx.unions))
        if rng.random() < 0.85:
            if employer is not None and area in "CDEG":
                self._involvement(
                    batch,
                    case,
                    organisation_id=ctx.employers[employer.name],
                    role="perpetrator",
                    perpetrator_type=data.PERPETRATOR_PRIVATE
                    if employer.sector == "Private sector"
                    else data.PERPETRATOR_STATE_ENTERPRISE,
                )
            else:
                body, _, ptype = rng.choice(ctx.state_bodies)
                self._involvement(
                    batch, case, organisation_id=body, role="perpetrator", perpetrator_type=ptype
                )
        for _ in range(self.testimonies.pick(rng)):
            self._testimony(batch, case, victims)

    def _testimony(self, batch: _Batch, case: dict[str, Any], victims: list[uuid.UUID]) -> None:
        rng = self.rng
        language = case["language"] if rng.random() < 0.7 else rng.choice(["be", "ru", "en"])
        if victims and rng.random() < 0.6:
            source = rng.choice(victims)
        else:
            source = self._person(
                batch, language=language, user=case["created_by"], at=case["created_at"], status=None
            )
            role = rng.choice(["source", "witness"])
            self._involvement(batch, case, person_id=source, role=role)
        index = rng.randrange(len(data.TESTIMONIES[language]))
        text = data.TESTIMONIES[language][index]
        translations: list[dict[str, Any]] = []
        if language != "en" and rng.random() < 0.25:
            translations = [{"language": "en", "text": data.TESTIMONIES["en"][index], "translated_by": None}]
        taken_at = min(case["date_hi"] + timedelta(days=rng.randrange(1, 90)), case["created_at"].date())
        said = TestimonyWords(text=text, translations=translations)
        testimony_id = _uuid(rng)
        row = {
            "id": testimony_id,
            "case_id": case["id"],
            "source_person_id": source,
            "taken_by": case["created_by"],
            "taken_at": taken_at,
            "place": rng.choice(["Vilnius", "Warsaw", "online", case["place"] or "online"]),
            "language": language,
            "sealed_text": testimony_texts.seal(sealer=self.sealer, testimony_id=testimony_id, words=said),
            "reliability": self.reliability.pick(rng),
            **_audit(case["created_by"], case["created_at"]),
        }
        batch.add("testimony", row)
        text_row = self._testimony_text(language, index, said)
        batch.add("case_text", {**text_row, "source_id": row["id"], "case_id": case["id"]})
        if self.history:
            revision = _revision("testimony", row, TESTIMONY_FIELDS, case["id"])
            sealed = {name: {"before": None, "after": value} for name, value in said.document().items()}
            revision["sealed_identity"] = self.sealer.seal(sealed, context=f"revision:{testimony_id}:1")
            batch.add("revision", revision)

    def _testimony_text(self, language: str, index: int, said: TestimonyWords) -> dict[str, Any]:
        """The index row of a template testimony (hashed once per template, not per testimony)."""
        key = (language, index, bool(said.translations))
        if key not in self.text_rows:
            self.text_rows[key] = testimony_row(
                testimony_id=uuid.UUID(int=0), case_id=uuid.UUID(int=0), said=said, words=self.words
            )
        return self.text_rows[key]


# ---- preparing the database --------------------------------------------------------------------------


def _demo_users(session: Session) -> tuple[list[uuid.UUID], Actor]:
    """Return the demo documenters' ids and the demo coordinator, creating the accounts when missing."""
    ids: dict[str, uuid.UUID] = {}
    roles = dict.fromkeys(DEMO_DOCUMENTERS, Role.DOCUMENTER) | {DEMO_COORDINATOR: Role.COORDINATOR}
    for username, role in roles.items():
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            # A random password nobody is told: an admin resets it if someone wants to log in as a demo user.
            user, _ = auth_service.create_user(session=session, username=username, role=role)
        ids[username] = user.id
    session.commit()
    coordinator = Actor.for_user(ids[DEMO_COORDINATOR], DEMO_COORDINATOR, Role.COORDINATOR.value)
    return [ids[name] for name in DEMO_DOCUMENTERS], coordinator


def _organisation(session: Session, actor: Actor, *, name: str, kind: str, sector: str | None) -> uuid.UUID:
    existing = session.exec(select(Organisation).where(Organisation.name_fold == fold(name))).first()
    if existing is not None:
        return existing.id
    org = people_service.create_organisation(
        session=session,
        actor=actor,
        org_in=OrganisationCreate(name=name, kind=OrganisationKind(kind), country="BY", sector=sector),
    )
    return org.id


def _prepare(session: Session) -> _Context:
    snap = taxonomy_service.snapshot(session)
    leaves = [n.code for n in snap.nodes.values() if n.is_leaf and n.retired_in is None and not n.local]
    if not leaves:
        raise DemoError("the taxonomy is not loaded: run `precedent taxonomy load` first")
    needed = (
        {("location_type", code) for codes in _LOCATION_BY_AREA.values() for code in codes}
        | {("violation_status", c) for c in _VIOLATION_STATUS}
        | {("detention_type", c) for c in [_DETENTION_ADMIN, *_DETENTION_POLITICAL]}
        | {("perpetrator_type", c) for c in [data.PERPETRATOR_PRIVATE, data.PERPETRATOR_STATE_ENTERPRISE]}
        | {("perpetrator_type", body[2]) for body in data.STATE_BODIES}
    )
    known = set(session.exec(select(VocabularyTerm.vocabulary, VocabularyTerm.code)).all())
    missing = sorted(needed - known)
    if missing:
        raise DemoError(f"vocabulary terms missing (run `precedent taxonomy load`): {missing}")
    documenters, coordinator = _demo_users(session)
    unions = [_organisation(session, coordinator, name=n, kind="union", sector=None) for n in data.UNIONS]
    employers = {
        e.name: _organisation(session, coordinator, name=e.name, kind="employer", sector=e.sector)
        for e in data.EMPLOYERS
    }
    bodies = [
        (_organisation(session, coordinator, name=name, kind=kind, sector=None), kind, ptype)
        for name, kind, ptype in data.STATE_BODIES
    ]
    return _Context(
        leaves=leaves,
        urgent_leaves=frozenset(n.code for n in snap.nodes.values() if n.urgent),
        documenters=documenters,
        unions=unions,
        employers=employers,
        state_bodies=bodies,
        existing_cases=session.exec(select(sa.func.count()).select_from(Case)).one(),
    )


# ---- writing ------------------------------------------------------------------------------------------


def _reserve_references(conn: sa.Connection, years: Iterable[int]) -> dict[int, Iterator[int]]:
    """Take a block of reference numbers per year, atomically (the same upsert create_case uses)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    table = ReferenceCounter.__table__  # type: ignore[attr-defined]
    blocks: dict[int, Iterator[int]] = {}
    for year, count in sorted(Counter(years).items()):
        stmt = (
            insert(table)
            .values(year=year, last_value=count)
            .on_conflict_do_update(index_elements=["year"], set_={"last_value": table.c.last_value + count})
            .returning(table.c.last_value)
        )
        last = conn.execute(stmt).scalar_one()
        blocks[year] = iter(range(last - count + 1, last + 1))
    return blocks


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _copy(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    json_columns = {c.name for c in table.c if isinstance(c.type, sa.JSON)}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:  # names come from the model
        for row in rows:
            # JSON goes as text in COPY's text format; the server parses it into jsonb.
            copy.write_row([_json_text(row[c]) if c in json_columns else row[c] for c in columns])


def _copy_text(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """COPY index rows into a scratch table, then let the server compute each tsvector as the services do."""
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE IF NOT EXISTS seed_text "
        "(source_id uuid, case_id uuid, kind varchar(16), body text) ON COMMIT DELETE ROWS"
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy("COPY seed_text (source_id, case_id, kind, body) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row["source_id"], row["case_id"], row["kind"], row["body"]])
    conn.exec_driver_sql(
        "INSERT INTO case_text (source_id, case_id, kind, body, tsv) "
        "SELECT source_id, case_id, kind, body, to_tsvector('simple'::regconfig, body) FROM seed_text"
    )


def _insert_many(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """executemany through the plain driver, with the column types' own bind processors (UUID, UTC, JSON)."""
    dialect = conn.dialect
    columns = list(rows[0])
    processors = [
        _json_text
        if isinstance(table.c[name].type, sa.JSON)
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    ]
    pairs = list(zip(columns, processors, strict=True))
    params = [tuple(row[c] if p is None else p(row[c]) for c, p in pairs) for row in rows]
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608 (names from the model)
    conn.exec_driver_sql(sql, params)


def _write(conn: sa.Connection, batch: _Batch) -> None:
    blocks = _reserve_references(conn, batch.case_years)
    revisions_by_case = {r["entity_id"]: r for r in batch.rows["revision"] if r["entity_type"] == "case"}
    for case, year in zip(batch.rows["case_record"], batch.case_years, strict=True):
        case["reference"] = f"PR-{year}-{next(blocks[year]):06d}"
        revision = revisions_by_case.get(case["id"])
        if revision is not None:
            revision["changes"]["reference"] = {"before": None, "after": case["reference"]}
    for model in _TABLES:
        table: sa.Table = model.__table__  # type: ignore[attr-defined]
        rows = batch.rows[table.name]
        if not rows:
            continue
        if conn.dialect.name == "postgresql" and table.name == "case_text":
            _copy_text(conn, rows)
        elif conn.dialect.name == "postgresql":
            _copy(conn, table, rows)
        else:
            _insert_many(conn, table, rows)  # on SQLite, case_text's triggers fill the FTS5 table


@contextmanager
def _bulk_settings(conn: sa.Connection) -> Iterator[None]:
    """On SQLite, give the loading connection a large page cache and WAL-safe NORMAL sync; restore after.

    Random UUID keys touch pages all over each index: with the default 2 MiB cache the load is I/O bound.
    NORMAL in WAL mode may lose the last batches on a power cut but never corrupts the database.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    # PRAGMA synchronous cannot change inside a transaction: run these on the driver connection directly.
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA cache_size=-262144")  # type: ignore[union-attr]
    raw.execute("PRAGMA synchronous=NORMAL")  # type: ignore[union-attr]
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        raw.execute("PRAGMA synchronous=FULL")  # type: ignore[union-attr]
        raw.execute("PRAGMA cache_size=-2000")  # type: ignore[union-attr]


def _finish_index(db: Database) -> str:
    """After the load: the people's victim counts and the cases' lists of people in several (people named again
    in later batches), FTS5's merge."""
    with db.write_engine.begin() as conn:
        rebuild_person_facets(conn)
        rebuild_victim_ids(conn)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("INSERT INTO case_fts(case_fts) VALUES ('optimize')")
    return "search index written with the cases"


def _analyze(db: Database) -> None:
    """Refresh the planner's statistics; on PostgreSQL also VACUUM, which marks the freshly written pages
    all-visible so that index-only scans need not visit the rows."""
    if db.is_sqlite:
        with db.write_engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        return
    with db.write_engine.connect() as conn:  # VACUUM cannot run inside a transaction
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")


def seed_demo(
    *,
    db: Database,
    sealer: Sealer,
    cases: int,
    seed: int = 1,
    batch: int = 5000,
    history: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Generate `cases` synthetic cases with their people, involvements, testimonies and history; load them.

    One thread generates the next batch while another writes the previous one (the drivers release the GIL
    while the database works); each batch is one transaction.
    """
    with db.write_session() as session:  # the demo users and organisations, committed once
        ctx = _prepare(session)
    generator = Generator(ctx, seed=seed, history=history, sealer=sealer)
    rows: Counter[str] = Counter()
    pending: queue.Queue[_Batch | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def write_all(conn: sa.Connection) -> None:
        done = 0
        while (current := pending.get()) is not None:
            with conn.begin():
                _write(conn, current)
            for name, table_rows in current.rows.items():
                rows[name] += len(table_rows)
            done += len(current.case_years)
            if progress is not None:
                progress(done, cases)

    def writer() -> None:
        try:
            with db.write_engine.connect() as conn, _bulk_settings(conn):
                write_all(conn)
        except BaseException as exc:  # re-raised in the calling thread
            failure.append(exc)
            while pending.get() is not None:  # drain, so the generating thread never blocks
                pass

    started = time.perf_counter()
    thread = threading.Thread(target=writer, name="demo-seed-writer", daemon=True)
    thread.start()
    try:
        made = 0
        while made < cases and not failure:
            size = min(batch, cases - made)
            current = _Batch()
            for _ in range(size):
                generator.add_case(current)
            pending.put(current)
            made += size
    finally:
        pending.put(None)
        thread.join()
    if failure:
        raise failure[0]
    seconds = time.perf_counter() - started
    text_index = _finish_index(db)
    analyze_started = time.perf_counter()
    _analyze(db)
    return SeedReport(
        cases=cases,
        rows=rows,
        seconds=seconds,
        text_index=text_index,
        analyze_seconds=time.perf_counter() - analyze_started,
    )
