"""The search index: full text in `case_text`, and the facet columns of `case_record`; rebuildable in bulk.

Design: one application-maintained table on both databases, no PostgreSQL trigger. The words to index are
tokenized and case-folded in Python (api.search.text), because neither database can fold Cyrillic the same
way: SQLite's lower() folds only ASCII and PostgreSQL's depends on the database locale. A generated tsvector
column could not use that Python fold, so on PostgreSQL the service writes `tsv = to_tsvector('simple', body)`
next to `body` (GIN-indexed); on SQLite an external-content FTS5 table, `case_fts`, follows `body` through the
triggers the migration creates. Every write path of cases and testimonies calls these functions inside its own
transaction; after a bulk load that bypassed the services, call `rebuild_text_index(connection, sealer=...)`.

What is indexed: each unretracted case (title, summary, narrative) and each unretracted testimony of an
unretracted case (its text and its translations). A retracted case leaves the index with its testimonies.

Facets: each case row also carries what the filters and statistics would otherwise find in other tables, so
that a search reads one row per case instead of joining on UUID keys at a million cases:
`region_fold`, `place_fold`, `employer_fold`, `sector_fold` (the fields case-folded in Python) and
`category_codes` (its codes, sorted), written with the case; `victims`, `victim_mask`, `victim_people` and
`victim_statuses` (its unretracted victim involvements, one bit per victim status among them, how many of them
are people, and how many people per status) and `victim_ids` (those of its victims who are victims in other
involvements too: the statistics take their repeats off),
with each person's `victim_cases`, refreshed by every write of an involvement, in the same transaction, under
locks on the person and case rows so that two concurrent writers cannot lose each other's change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col

from api.identity import door
from api.models import Case, CaseCategory, CaseText, Involvement, Person, Testimony
from api.sealing import Sealer
from api.search.text import WordSeal, fold, index_body, word_seal
from api.testimonies import texts as testimony_texts
from api.testimonies.texts import TestimonyWords
from schemas.enums import InvolvementRole, VictimStatus

CASE = "case"
TESTIMONY = "testimony"
_BATCH = 2000
_TEXT: sa.Table = CaseText.__table__  # type: ignore[attr-defined]


class Executor(Protocol):
    """A Connection or a Session: both execute Core statements."""

    def execute(self, statement: Any, parameters: Any = None, /) -> Any: ...


def _is_postgres(executor: Executor) -> bool:
    bind: Any = executor.get_bind() if isinstance(executor, Session) else executor
    return bool(bind.dialect.name == "postgresql")


def _folded(value: str | None) -> str | None:
    return fold(value.strip()) if value and value.strip() else None


# One bit per victim status in case_record.victim_mask. Stored data depends on these numbers: append only.
VICTIM_STATUS_BIT: dict[str, int] = {status.value: 1 << n for n, status in enumerate(VictimStatus)}
FOLDED_FIELDS = ("region", "place", "employer", "sector")
# The role as a literal in the SQL, not a bound parameter: only then does SQLite know the partial index of
# live victims (WHERE role = 'victim' ...) already holds the condition, and leave the table rows unread
# (statistics at a million cases: 1.6 s instead of 2.2 s).
LIVE_VICTIMS = (
    col(Involvement.role) == sa.literal(InvolvementRole.VICTIM.value, literal_execute=True),
    col(Involvement.retracted_at).is_(None),
)


def status_bits(statuses: Iterable[str]) -> int:
    """The victim_mask bits of these statuses."""
    bits = 0
    for status in statuses:
        bits |= VICTIM_STATUS_BIT[status]
    return bits


def case_folds(values: Any) -> dict[str, str | None]:
    """The case-folded filter columns of a case (`region_fold`...), from a Case or an object like one."""
    return {f"{name}_fold": _folded(getattr(values, name)) for name in FOLDED_FIELDS}


def refresh_victims(executor: Executor, case_id: uuid.UUID, person_id: uuid.UUID | None = None) -> None:
    """Recount a case's live victims after an involvement was written (same transaction); with `person_id`,
    that person's live victim involvements (person.victim_cases) too.

    victim_ids lists the people of a case who are victims in more than one involvement, anywhere: when this
    write makes the person cross that line, each of their cases is recounted, not just this one.

    Rows are locked before they are read (PostgreSQL; SQLite serialises writers), so each recount sees every
    involvement committed by a writer that held the lock before: the person first, then the cases in the
    order of their ids, so that two writers never wait on each other's rows in a circle. FOR NO KEY UPDATE,
    because the involvement's foreign keys already hold KEY SHARE locks on both rows: two writers upgrading
    those to FOR UPDATE would deadlock.
    """
    cases = {case_id}
    if person_id is not None:
        before = executor.execute(
            sa.select(col(Person.victim_cases))
            .where(col(Person.id) == person_id)
            .with_for_update(key_share=True)
        ).scalar_one()
        theirs = (
            executor.execute(
                sa.select(col(Involvement.case_id)).where(
                    col(Involvement.person_id) == person_id, *LIVE_VICTIMS
                )
            )
            .scalars()
            .all()
        )
        executor.execute(
            sa.update(Person).where(col(Person.id) == person_id).values(victim_cases=len(theirs))
        )
        if (before > 1) != (len(theirs) > 1):
            cases.update(theirs)
    for case in sorted(cases):
        executor.execute(sa.select(col(Case.id)).where(col(Case.id) == case).with_for_update(key_share=True))
    for case in sorted(cases):
        _recount(executor, case)


def _recount(executor: Executor, case_id: uuid.UUID) -> None:
    """Write a case's victim facets from its live victim involvements (the case row is locked)."""
    rows = executor.execute(
        sa.select(col(Involvement.victim_status), col(Involvement.person_id), col(Person.victim_cases))
        .select_from(Involvement)
        .outerjoin(Person, col(Person.id) == col(Involvement.person_id))
        .where(col(Involvement.case_id) == case_id, *LIVE_VICTIMS)
    ).all()
    executor.execute(
        sa.update(Case)
        .where(col(Case.id) == case_id)
        .values(
            victims=len(rows),
            victim_mask=status_bits(status for status, _, _ in rows if status),
            victim_people=sum(1 for _, person, _ in rows if person is not None),
            victim_statuses=status_signature((status, person is not None) for status, person, _ in rows),
            victim_ids=victim_id_list(
                (status, person) for status, person, n in rows if person is not None and n > 1
            ),
        )
    )


NO_STATUS = "-"


def status_signature(victims: Iterable[tuple[str | None, int]], signature: str = "") -> str:
    """case_record.victim_statuses from the live victims' (status, people among them), added to `signature`:
    each status present, sorted, with how many of its victims are people ("detained=2 released=0"); a victim
    without a status is "-"."""
    people = {status or NO_STATUS: n for status, n in read_status_signature(signature)}
    for status, n in victims:
        key = status or NO_STATUS
        people[key] = people.get(key, 0) + int(n)
    return " ".join(f"{key}={people[key]}" for key in sorted(people))


def person_hex(person: Any) -> str:
    """A person id as case_record.victim_ids spells it: 32 lowercase hex digits (a UUID, or as a driver gives it)."""
    return person.hex if isinstance(person, uuid.UUID) else str(person).replace("-", "").lower()


def victim_id_list(victims: Iterable[tuple[str | None, Any]]) -> str:
    """case_record.victim_ids from (status, person id) of the case's live victims who are people in more than
    one involvement: "<id>:<status>" for each ("-" for no status), sorted. See refresh_victims."""
    return " ".join(sorted(f"{person_hex(person)}:{status or NO_STATUS}" for status, person in victims))


def read_status_signature(signature: str) -> list[tuple[str | None, int]]:
    """(status, people) pairs of a victim_statuses value; None for a victim without a status."""
    pairs = []
    for item in signature.split():
        status, _, people = item.rpartition("=")
        pairs.append((None if status == NO_STATUS else status, int(people)))
    return pairs


def category_signature(codes: Iterable[str]) -> str:
    """case_record.category_codes: the codes, sorted and space-separated."""
    return " ".join(sorted(set(codes)))


def case_row(values: Any) -> dict[str, Any]:
    """Index row of a case, from a Case or any object with its attributes."""
    return {
        "source_id": values.id,
        "case_id": values.id,
        "kind": CASE,
        "body": index_body([values.title, values.summary, values.narrative]),
    }


def testimony_row(
    *, testimony_id: uuid.UUID, case_id: uuid.UUID, said: TestimonyWords, words: WordSeal
) -> dict[str, Any]:
    """Index row of a testimony: the keyed hashes of the words of its text and every translation."""
    return {
        "source_id": testimony_id,
        "case_id": case_id,
        "kind": TESTIMONY,
        "body": words.body(said.all_texts()),
    }


def _insert(executor: Executor, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = sa.insert(_TEXT)
    if _is_postgres(executor):
        # Computed by the server from the same words; bound parameters, never string-built SQL.
        statement = statement.values(
            tsv=sa.func.to_tsvector(sa.literal_column("'simple'::regconfig"), sa.bindparam("tsv_body"))
        )
        rows = [{**row, "tsv_body": row["body"]} for row in rows]
    executor.execute(statement, rows)


def _delete_sources(executor: Executor, source_ids: list[uuid.UUID]) -> None:
    executor.execute(sa.delete(CaseText).where(col(CaseText.source_id).in_(source_ids)))


def put(executor: Executor, rows: list[dict[str, Any]]) -> None:
    """Insert or replace the index rows of these sources."""
    _delete_sources(executor, [r["source_id"] for r in rows])
    _insert(executor, rows)


def index_case(executor: Executor, values: Any) -> None:
    """(Re)index a case from its current values (a Case, or an object carrying the values being written)."""
    put(executor, [case_row(values)])


def index_testimony(
    executor: Executor, testimony: Testimony, said: TestimonyWords, *, words: WordSeal
) -> None:
    """(Re)index a testimony by the keyed hashes of what it says (`said`: its words being written)."""
    put(
        executor,
        [testimony_row(testimony_id=testimony.id, case_id=testimony.case_id, said=said, words=words)],
    )


def remove_source(executor: Executor, source_id: uuid.UUID) -> None:
    """Drop one record (a retracted testimony) from the index."""
    _delete_sources(executor, [source_id])


def remove_case(executor: Executor, case_id: uuid.UUID) -> None:
    """Drop a case and its testimonies from the index (the case was retracted)."""
    executor.execute(sa.delete(CaseText).where(col(CaseText.case_id) == case_id))


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _keyset(connection: sa.Connection, query: Any, key: Any) -> Iterator[Any]:
    """Yield every row of `query` in `key` order, a batch per statement (no cursor held open across writes)."""
    after = None
    while True:
        page = query if after is None else query.where(key > after)
        rows = connection.execute(page.order_by(key).limit(_BATCH)).all()
        yield from rows
        if len(rows) < _BATCH:
            return
        after = rows[-1].id


def rebuild_facets(connection: sa.Connection) -> None:
    """Recompute every case's and person's facet columns from the records, set-based.

    The folded columns are written once per distinct value (a few hundred regions and employers, not a
    million cases); the victim counts and status bits by one grouped pass over the live victims; the
    category codes by one grouped pass over case_category.
    """
    # One pass per field: each distinct value folded once, through a temporary mapping table.
    connection.exec_driver_sql("CREATE TEMPORARY TABLE search_fold_map (value TEXT PRIMARY KEY, folded TEXT)")
    mapping = sa.table("search_fold_map", sa.column("value"), sa.column("folded"))
    for name in FOLDED_FIELDS:
        source = getattr(Case, name)
        connection.execute(sa.update(Case).values({f"{name}_fold": None}))
        values = connection.execute(sa.select(source).where(source.is_not(None)).distinct()).scalars().all()
        if values:
            connection.execute(sa.insert(mapping), [{"value": v, "folded": _folded(v)} for v in values])
            connection.execute(
                sa.update(Case).where(source == mapping.c.value).values({f"{name}_fold": mapping.c.folded})
            )
            connection.execute(sa.delete(mapping))
    connection.exec_driver_sql("DROP TABLE search_fold_map")
    bit = sa.case(
        *((col(Involvement.victim_status) == status, b) for status, b in VICTIM_STATUS_BIT.items()), else_=0
    )
    per_case = (
        sa.select(
            col(Involvement.case_id).label("case_id"),
            sa.func.count().label("victims"),
            sa.func.sum(sa.distinct(bit)).label("mask"),
            sa.func.count(col(Involvement.person_id)).label("people"),
        )
        .where(*LIVE_VICTIMS)
        .group_by(col(Involvement.case_id))
        .subquery()
    )
    connection.execute(
        sa.update(Case).values(
            victims=0, victim_mask=0, victim_people=0, category_codes="", victim_statuses="", victim_ids=""
        )
    )
    connection.execute(
        sa.update(Case)
        .where(col(Case.id) == per_case.c.case_id)
        .values(victims=per_case.c.victims, victim_mask=per_case.c.mask, victim_people=per_case.c.people)
    )
    _rebuild_signatures(connection)
    _rebuild_status_signatures(connection)
    rebuild_person_facets(connection)
    rebuild_victim_ids(connection)


def rebuild_person_facets(connection: sa.Connection) -> None:
    """Recount every person's live victim involvements (person.victim_cases), set-based."""
    per_person = (
        sa.select(col(Involvement.person_id).label("person_id"), sa.func.count().label("n"))
        .where(*LIVE_VICTIMS, col(Involvement.person_id).is_not(None))
        .group_by(col(Involvement.person_id))
        .subquery()
    )
    connection.execute(sa.update(Person).values(victim_cases=0))
    connection.execute(
        sa.update(Person).where(col(Person.id) == per_person.c.person_id).values(victim_cases=per_person.c.n)
    )


def _rebuild_signatures(connection: sa.Connection) -> None:
    """Write each case's category_codes from case_category."""
    # The order of the codes inside an aggregate is the input's; the statistics read the codes as a set.
    ordered = (
        sa.select(col(CaseCategory.case_id), col(CaseCategory.code))
        .order_by(col(CaseCategory.case_id), col(CaseCategory.code))
        .subquery()
    )
    joined = (
        sa.func.string_agg(ordered.c.code, sa.literal_column("' '"))
        if connection.dialect.name == "postgresql"
        else sa.func.group_concat(ordered.c.code, " ")
    )
    signatures = sa.select(ordered.c.case_id, joined.label("codes")).group_by(ordered.c.case_id).subquery()
    connection.execute(
        sa.update(Case).where(col(Case.id) == signatures.c.case_id).values(category_codes=signatures.c.codes)
    )


def _rebuild_status_signatures(connection: sa.Connection) -> None:
    """Write each case's victim_statuses from its live victims: one grouped pass, then one update per batch."""
    grouped = (
        sa.select(
            col(Involvement.case_id),
            col(Involvement.victim_status),
            sa.func.count(col(Involvement.person_id)),
        )
        .where(*LIVE_VICTIMS)
        .group_by(col(Involvement.case_id), col(Involvement.victim_status))
        .order_by(col(Involvement.case_id))
    )
    signatures: list[dict[str, Any]] = []
    current: Any = None
    victims: list[tuple[str | None, int]] = []
    for case_id, status, people in [*connection.execute(grouped).all(), (None, None, 0)]:
        if case_id != current:
            if current is not None:
                signatures.append({"key": current, "signature": status_signature(victims)})
            current, victims = case_id, []
        victims.append((status, people))
    update = (
        sa.update(Case)
        .where(col(Case.id) == sa.bindparam("key"))
        .values(victim_statuses=sa.bindparam("signature"))
    )
    for batch in _batches(iter(signatures)):
        connection.execute(update, batch)


def rebuild_victim_ids(connection: sa.Connection) -> None:
    """Write each case's victim_ids from its live victims who are people in more than one involvement
    (person.victim_cases, recounted first by rebuild_person_facets): one pass over them in case order, then
    the lists that differ from the stored ones, written by one UPDATE."""
    victims = (
        sa.select(col(Involvement.case_id), col(Involvement.victim_status), col(Involvement.person_id))
        .join(Person, col(Person.id) == col(Involvement.person_id))
        .where(*LIVE_VICTIMS, col(Person.victim_cases) > 1)
        .order_by(col(Involvement.case_id))
    )
    lists: dict[Any, str] = {}
    current: Any = None
    rows: list[tuple[str | None, Any]] = []
    for case_id, status, person in [*connection.execute(victims).all(), (None, None, None)]:
        if case_id != current:
            if current is not None:
                lists[current] = victim_id_list(rows)
            current, rows = case_id, []
        rows.append((status, person))
    # Only the lists that change are written: each write also rewrites the row's entries in the covering
    # indexes (SQLite), and a rebuild of a sound database changes nothing.
    stored = dict(
        connection.execute(
            sa.select(col(Case.id), col(Case.victim_ids)).where(col(Case.victim_ids) != "")
        ).all()
    )
    changed = dict.fromkeys(stored.keys() - lists.keys(), "")
    changed.update((case_id, ids) for case_id, ids in lists.items() if stored.get(case_id) != ids)
    if not changed:
        return
    # Through a temporary table and one UPDATE: one statement per case took 47 s for 186,000 cases on
    # PostgreSQL (34 s this way, most of it the rows' new versions).
    lists_table = sa.Table(
        "victim_id_lists",
        sa.MetaData(),
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("ids", sa.Text, nullable=False),
        prefixes=["TEMPORARY"],
    )
    lists_table.create(connection)
    for batch in _batches({"case_id": case_id, "ids": ids} for case_id, ids in changed.items()):
        connection.execute(sa.insert(lists_table), batch)
    connection.execute(
        sa.update(Case).where(col(Case.id) == lists_table.c.case_id).values(victim_ids=lists_table.c.ids)
    )
    lists_table.drop(connection)


def _testimony_rows(connection: sa.Connection, sealer: Sealer, rows: list[Any]) -> list[dict[str, Any]]:
    """Index rows of a batch of testimonies, their words opened through the door (one audit row per batch)."""
    values = [door.SealedValue(r.id, r.sealed_text, testimony_texts.context(r.id)) for r in rows]
    documents = door.open_for_system(
        connection=connection,
        sealer=sealer,
        kind=door.SealedKind.TESTIMONY_TEXT,
        values=values,
        reason="search index rebuild",
    )
    words = word_seal(sealer)
    return [
        testimony_row(
            testimony_id=r.id,
            case_id=r.case_id,
            said=TestimonyWords(text=d.get("text", ""), translations=d.get("translations", [])),
            words=words,
        )
        for r, d in zip(rows, documents, strict=True)
    ]


def rebuild_text_index(connection: sa.Connection, *, sealer: Sealer, facets: bool = True) -> int:
    """Rebuild the whole index from the cases and testimonies in the database; return the rows written.

    Runs on the caller's connection and transaction (commit it afterwards). Use after bulk loads that wrote
    cases or testimonies without the services. The testimonies' words are opened with `sealer` (recorded in
    the audit log as read by the system) and indexed by their keyed hashes. `facets=False` leaves the case facet columns as they are (for
    a loader that wrote them itself).
    """
    if facets:
        rebuild_facets(connection)
    # On SQLite the triggers on case_text keep case_fts in step, row by row.
    connection.execute(sa.delete(CaseText))
    cases = sa.select(
        col(Case.id),
        col(Case.title),
        col(Case.summary),
        col(Case.narrative),
    ).where(col(Case.retracted_at).is_(None))
    written = 0
    for batch in _batches(case_row(r) for r in _keyset(connection, cases, col(Case.id))):
        _insert(connection, batch)
        written += len(batch)
    testimonies = (
        sa.select(col(Testimony.id), col(Testimony.case_id), col(Testimony.sealed_text))
        .join(Case, col(Case.id) == col(Testimony.case_id))
        .where(col(Testimony.retracted_at).is_(None), col(Case.retracted_at).is_(None))
    )
    for batch in _batches(_keyset(connection, testimonies, col(Testimony.id))):
        _insert(connection, _testimony_rows(connection, sealer, batch))
        written += len(batch)
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("INSERT INTO case_fts(case_fts) VALUES ('optimize')")
    return written
