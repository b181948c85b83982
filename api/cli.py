"""The `precedent` console script: serve, migrate, manage users and tokens, load the taxonomy."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.config import PRIVATE_UMASK, Settings, get_settings, make_private_dir
from schemas.enums import Role

if TYPE_CHECKING:
    from api.context import AppContext

app = typer.Typer(
    help="Precedent: documentation database for labour-rights violations.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts.", no_args_is_help=True)
custody_app = typer.Typer(help="The evidence custody ledger.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
taxonomy_app = typer.Typer(help="The precedent taxonomy.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")
app.add_typer(custody_app, name="custody")
demo_app = typer.Typer(help="Synthetic demonstration data.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


@app.callback()
def _private_files() -> None:
    # Whatever a command writes (database, keys, evidence, exports, backups) is this account's alone. Most code
    # that makes files sets their modes too; `custody export-ledger` relies on this umask alone.
    os.umask(PRIVATE_UMASK)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _context() -> AppContext:
    from api.context import AppContext

    return AppContext.build(_settings())


def _terminal_language() -> str:
    """be, ru or en from the POSIX locale variables (LC_ALL, LC_MESSAGES, LANG), English by default."""
    from api import i18n

    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            primary = value.split("_")[0].split(".")[0].lower()
            return primary if primary in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    return i18n.DEFAULT_LANGUAGE


def _localised(exc: Exception) -> str:
    """A problem's message in the terminal's language (its field messages are message ids of the catalogs)."""
    from api import i18n
    from api.problems import ProblemError

    if not isinstance(exc, ProblemError):
        return str(exc)
    errors = exc.extensions.get("errors") or []
    if not errors:
        return str(exc.detail or exc)
    with i18n.activated(_terminal_language()):
        return "; ".join(f"{e['field']}: {i18n.gettext(str(e['message']))}" for e in errors)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Upgrade the database to the latest schema (safe to run again)."""
    from api import migrate

    settings = _settings()
    make_private_dir(settings.data_dir)
    migrate.upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at revision {migrate.head_revision() if revision == 'head' else revision}")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message", help="What the change does.")],
) -> None:
    """(Developers) write a migration for the model changes, against a database at head."""
    from api import migrate

    migrate.new_revision(_settings().resolved_database_url, message)


@db_app.command("check")
def db_check() -> None:
    """Check that the database is at head and that models and migrations agree; exit 1 if not."""
    import sqlalchemy as sa

    from api import migrate
    from api.db import Database

    settings = _settings()
    db = Database(settings.resolved_database_url)
    try:
        with db.engine.connect() as conn:
            current = migrate.current_revision(conn)
            head = migrate.head_revision()
            if current != head:
                _fail(f"database is at {current}, code expects {head}: run `precedent db upgrade`")
            diffs = migrate.pending_differences(conn)
    except sa.exc.DBAPIError as exc:
        _fail(f"database unreachable: {type(exc.orig).__name__}")
    finally:
        db.dispose()
    if diffs:
        for diff in diffs:
            typer.echo(f"  {diff}", err=True)
        _fail("models and migrations disagree: add a migration")
    typer.echo(f"ok: at {head}, models and migrations agree")


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[Role, typer.Option(help="admin, coordinator, documenter or researcher")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an account; prints a generated password unless --password-stdin is given."""
    from api.auth import service as auth_service
    from api.problems import ProblemError

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    ctx = _context()
    try:
        with ctx.db.write_session() as session:
            user, generated = auth_service.create_user(
                session=session, username=username, role=role, password=password
            )
    except ProblemError as exc:
        _fail(_localised(exc))
    finally:
        ctx.close()
    typer.echo(f"created {user.username} ({user.role})")
    if not password_stdin:
        typer.echo(f"password: {generated}")


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable an account; its tokens stop working at once."""
    from api.auth import service as auth_service
    from api.problems import ProblemError

    ctx = _context()
    try:
        with ctx.db.write_session() as session:
            auth_service.disable_user(session=session, username=username)
    except ProblemError as exc:
        _fail(str(exc.detail or exc))
    finally:
        ctx.close()
    typer.echo(f"disabled {username}")


@token_app.command("create")
def token_create(
    username: str,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity in days.")] = 365,
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
) -> None:
    """Create a long-lived API token for scripts; it is printed once and stored only as a hash."""
    from api.auth import service as auth_service
    from api.problems import ProblemError

    ctx = _context()
    try:
        with ctx.db.write_session() as session:
            token, row = auth_service.create_api_token(
                ctx=ctx, session=session, username=username, days=days, label=label
            )
    except ProblemError as exc:
        _fail(str(exc.detail or exc))
    finally:
        ctx.close()
    typer.echo(token)
    typer.echo(f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC", err=True)


@taxonomy_app.command("load")
def taxonomy_load() -> None:
    """Load the shipped taxonomy versions and vocabularies into the database (loading twice changes nothing)."""
    from api.taxonomy import service as taxonomy_service
    from api.taxonomy.loader import TaxonomyError

    ctx = _context()
    try:
        with ctx.db.write_session() as session:
            report = taxonomy_service.load_taxonomy(session=session)
    except TaxonomyError as exc:
        _fail(f"taxonomy files are invalid: {exc}")
    finally:
        ctx.close()
    state = "changed" if report.changed else "unchanged"
    typer.echo(
        f"taxonomy v{report.versions[-1]} {state}: {report.inserted} nodes added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.terms_changed} vocabulary terms written"
    )


@app.command("backup")
def backup(
    dest: Annotated[Path, typer.Argument(help="A new, empty folder.")],
    recipient: Annotated[
        list[str] | None,
        typer.Option("--recipient", "-r", help="An age public key (age1...) that may open it; repeatable."),
    ] = None,
    recipients_file: Annotated[
        list[Path] | None,
        typer.Option("--recipients-file", "-R", help="A file of age public keys, one a line; repeatable."),
    ] = None,
) -> None:
    """Write an encrypted backup of the database (consistent snapshot), the keys and the evidence."""
    from api.backup import BackupError, create_backup, parse_recipients, read_recipients_file

    settings = _settings()
    try:
        keys = list(recipient or []) + [k for f in recipients_file or [] for k in read_recipients_file(f)]
        report = create_backup(settings=settings, dest=dest, recipients=parse_recipients(keys))
    except BackupError as exc:
        _fail(str(exc))
    typer.echo(
        f"encrypted backup written to {report.path}: {report.files} files, {report.bytes} bytes, "
        f"{report.blobs} evidence blobs, schema revision {report.revision}"
    )
    if settings.identity_key is not None and not report.identity_key_included:
        typer.echo("PRECEDENT_IDENTITY_KEY is not in it: keep that key apart, as safely as this backup.")
    typer.echo("Only the private key of a recipient opens it: keep that key away from the server.")


@app.command("restore")
def restore(
    src: Annotated[Path, typer.Argument(help="A backup file (precedent-backup.tar.age) or its folder.")],
    identity: Annotated[
        list[Path],
        typer.Option("--identity", "-i", help="The age identity file (AGE-SECRET-KEY-1...) that opens it."),
    ],
    force: Annotated[bool, typer.Option(help="Restore over a database that already holds cases.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Only decrypt and check every digest.")] = False,
) -> None:
    """Decrypt a backup, check it against its manifest, then restore it into the configured database and data folder."""
    from api import migrate
    from api.backup import BackupError, find_archive, load_identities, restore_backup, verify_backup

    settings = _settings()
    try:
        archive = find_archive(src)
        identities = [i for path in identity for i in load_identities(path)]
        if check:
            problems = verify_backup(archive=archive, identities=identities)
            if problems:
                raise BackupError("the backup does not match its manifest:\n  " + "\n  ".join(problems))
            typer.echo(f"ok: {archive} opens, and every file in it matches its manifest")
            return
        result = restore_backup(settings=settings, archive=archive, identities=identities, force=force)
    except BackupError as exc:
        _fail(str(exc))
    migrate.upgrade(settings.resolved_database_url)
    typer.echo(
        f"restored schema revision {result['revision']} (now at head) and {result['blobs']} evidence blobs"
    )


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """Show rich progress bars on stderr, one per phase; yield the (phase, done, total) callback."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

    labels = {
        "blobs": "rehashing stored files",
        "ledger": "checking ledger records",
        "binding": "checking bindings",
    }
    with Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[amount]}"),
        console=Console(stderr=True),
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int) -> None:
            amount = (
                f"{done / 2**20:,.0f}/{total / 2**20:,.0f} MiB" if phase == "blobs" else f"{done:,}/{total:,}"
            )
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=total, amount=amount)
            bar.update(tasks[phase], completed=done, total=total, amount=amount)

        yield update


@app.command("verify")
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Rehash every stored file; check the ledger, its signed heads and its binding; exit 1 on any failure."""
    import json

    import sqlalchemy as sa

    from api.custody import check

    ctx = _context()
    try:
        with _progress_bar() as progress:
            report = check.verify_everything(ctx=ctx, progress=progress)
    except sa.exc.DBAPIError as exc:
        _fail(
            f"database unreachable or not migrated ({type(exc.orig).__name__}): run `precedent db upgrade`", 2
        )
    finally:
        ctx.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        for line in report.checked:
            typer.echo(f"  check {line}")
        for line in report.notes:
            typer.echo(f"  note  {line}")
        for finding in report.findings:
            typer.echo(f"  FAIL  {finding}")
        typer.echo(
            "VERIFIED: every check passed" if report.ok else f"FAILED: {len(report.findings)} problem(s)"
        )
    if not report.ok:
        raise typer.Exit(1)


@custody_app.command("export-ledger")
def custody_export_ledger(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write the store copy into (created if missing).")
    ],
    blobs: Annotated[bool, typer.Option("--blobs/--no-blobs", help="Also copy every stored file.")] = True,
) -> None:
    """Write a store copy for `python -m evidence_store verify`: custody/ledger.jsonl, the signed head, the key."""
    from api.custody import export

    ctx = _context()
    try:
        with _progress_bar() as progress:
            summary = export.export_store_copy(
                ctx=ctx, directory=directory, with_blobs=blobs, progress=progress
            )
    finally:
        ctx.close()
    typer.echo(f"wrote {summary.records} ledger records; signed tree head covers {summary.tree_size}")
    if blobs:
        typer.echo(f"copied {summary.blobs_copied} stored files ({summary.blobs_present} already present)")
    for sha256 in summary.damaged:
        typer.echo(f"warning: stored file sha256:{sha256} is damaged; copied as stored", err=True)
    typer.echo(f"check it with: python -m evidence_store verify {directory}")


@demo_app.command("seed")
def demo_seed(
    cases: Annotated[int, typer.Option(min=1, help="How many cases to generate.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 1,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Cases per transaction.")] = 5000,
    history: Annotated[
        bool, typer.Option("--history/--no-history", help="Write a create revision for every record.")
    ] = True,
    force: Annotated[bool, typer.Option(help="Seed even in production mode.")] = False,
) -> None:
    """Load synthetic, pseudonymous cases (people, involvements, testimonies) for demos and benchmarks."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from api.config import Mode
    from api.context import AppContext
    from api.demo.seed import DemoError, seed_demo

    settings = _settings()
    if settings.mode is Mode.PRODUCTION and not force:
        _fail("refusing to load demo data in production mode (pass --force if you really mean it)")
    ctx = AppContext.build(settings)
    db = ctx.db
    try:
        with Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        ) as bar:
            task = bar.add_task("seeding cases", total=cases)
            report = seed_demo(
                db=db,
                sealer=ctx.sealer,
                cases=cases,
                seed=seed,
                batch=batch,
                history=history,
                progress=lambda done, _total: bar.update(task, completed=done),
            )
    except DemoError as exc:
        _fail(str(exc))
    finally:
        db.dispose()
    typer.echo(
        f"seeded {report.cases:,} cases: {report.total_rows:,} rows in {report.seconds:.1f} s "
        f"({report.rows_per_second:,.0f} rows/s, {report.cases / report.seconds:,.0f} cases/s); "
        f"{report.text_index}; ANALYZE {report.analyze_seconds:.1f} s"
    )
    for table, count in sorted(report.rows.items()):
        typer.echo(f"  {table:<16} {count:>12,}")


#: Loggers shown at the configured level; every other stays at WARNING (see configure_logging).
OWN_LOGGERS = ("precedent", "api", "evidence_store", "uvicorn")


def configure_logging(level: str) -> None:
    """Log our own records (and the server's) at `level`, every library's at WARNING only.

    An allow-list, not a deny-list: a library's debug output may carry what it parsed, and Pillow's does (the
    EXIF it reads from an uploaded photo: artist, owner, camera serials, GPS position).
    """
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)


@app.command("serve")
def serve(
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Upgrade the database first.")
    ] = True,
) -> None:
    """Serve the API and web interface with uvicorn (creates the first admin account on a fresh install)."""
    import uvicorn

    from api import migrate
    from api.auth import service as auth_service

    settings = _settings()
    make_private_dir(settings.data_dir)
    if migrate_first:
        migrate.upgrade(settings.resolved_database_url)
    ctx = _context()
    try:
        with ctx.db.write_session() as session:
            if migrate_first:
                from api.taxonomy import service as taxonomy_service

                taxonomy_service.load_taxonomy(session=session)
            password = auth_service.ensure_first_admin(session=session)
    finally:
        ctx.close()
    if password:
        typer.echo("=" * 72)
        typer.echo("First start: created the account `admin`. Its password is shown only this once:")
        typer.echo(f"    {password}")
        typer.echo(
            f"Sign in at http://{settings.host}:{settings.port}/ (or POST /api/v1/auth/token), "
            "then create the other accounts."
        )
        typer.echo("=" * 72)
    configure_logging(settings.log_level)
    # The pages work without JavaScript; the API explorer (/docs) needs it.
    typer.echo(f"Precedent on http://{settings.host}:{settings.port}/ (API explorer: /docs)")
    uvicorn.run(
        "api.main:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        proxy_headers=settings.trust_proxy_headers,
        log_level=settings.log_level.lower(),
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
