"""The ``governance`` command: serve, migrate, token, audit.

Only ``serve`` and ``migrate`` may create a deployment (keys, database); every other
command works on an existing one and says where it looked when there is none. A user's
mistake ends the command with one line on stderr and a non-zero status, never a traceback.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import warnings
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click
import msgspec

from governance.settings import Settings, SettingsError

if TYPE_CHECKING:
    from governance.bootstrap import Services

T = TypeVar("T")

WHERE_TO_POINT = (
    "run it where `governance serve` runs, or set GOVERNANCE_DATA_DIR to that data directory "
    "(GOVERNANCE_DATABASE_URL to its database)"
)


def _settings(*, existing: bool = True) -> Settings:
    """The settings; with ``existing``, refuse unless they name a deployment that exists."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    if existing:
        _require_deployment(settings)
    # Logs go to stderr, as the service's do: stdout carries a command's answer (``--json``).
    from governance.core.logging import configure_logging

    configure_logging(settings)
    return settings


def _services() -> Services:
    """Everything an existing deployment runs on, built as the service builds it."""
    from governance import bootstrap

    return bootstrap.build(_settings())


def _require_deployment(settings: Settings) -> None:
    """Refuse to work on a data directory that holds no deployment.

    Keys made up here would sign tokens the service rejects and checkpoints nobody can
    check, and an empty database has no log: the command would only seem to work.
    """
    needed = [settings.effective_master_key_file, settings.effective_checkpoint_key_file]
    if not settings.jwt_secret:
        needed.append(settings.jwt_secret_file)
    if not settings.is_postgres:
        needed.append(settings.sqlite_path)
    missing = [path for path in needed if not path.is_file()]
    if missing:
        home = settings.data_dir.resolve()
        names = ", ".join(str(_relative(path, home)) for path in missing)
        raise click.ClickException(
            f"no deployment in data directory {home} (missing {names}): {WHERE_TO_POINT}; "
            "`governance migrate` sets up a new one"
        )


def _relative(path: Path, home: Path) -> Path:
    resolved = path.resolve()
    return resolved.relative_to(home) if resolved.is_relative_to(home) else resolved


def _database_name(settings: Settings) -> str:
    """The database URL as shown to the user: without its password."""
    parts = urlsplit(settings.effective_database_url)
    if parts.password is None:
        return settings.effective_database_url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}@{netloc}").geturl()


def _database_errors() -> tuple[type[BaseException], ...]:
    import asyncpg

    return (OSError, TimeoutError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError)


def _with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` with the database open (pool on PostgreSQL) and migrated, then close it."""
    from governance.core import db

    async def run() -> T:
        await _open_database(settings)
        try:
            await _require_migrated(settings)
            return await work()
        finally:
            await db.stop()

    return asyncio.run(run())


async def _open_database(settings: Settings) -> None:
    from governance.core import db

    try:
        await db.start(settings)
    except _database_errors() as exc:
        raise click.ClickException(
            f"cannot reach the database {_database_name(settings)}: {_reason(exc)} "
            "(GOVERNANCE_DATABASE_URL names the deployment's database)"
        ) from None


async def _require_migrated(settings: Settings) -> None:
    """Refuse a database whose schema lags behind this code: queries would fail half-way."""
    from piccolo.apps.migrations.commands.check import CheckMigrationManager
    from piccolo.apps.migrations.tables import Migration

    if not await Migration.table_exists():
        pending = "no migration has been applied"
    else:
        statuses = await CheckMigrationManager("all").get_migration_statuses()
        missing = [status for status in statuses if not status.has_ran]
        pending = f"{len(missing)} migration(s) not applied" if missing else ""
    if pending:
        raise click.ClickException(
            f"the database {_database_name(settings)} is not ready ({pending}): run `governance migrate`"
        )


def _reason(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class _Governance(click.Group):
    """The command group: user mistakes end in one line on stderr, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise  # click's own, reported by main()
        except Exception as exc:
            # The kinds of mistake are imported only when one is raised: Problem brings in
            # Litestar, which a command such as `token issue` or `witness vkey` never needs.
            from governance.audit.keys import KeyHistoryError
            from governance.core.durations import DurationError
            from governance.core.errors import Problem
            from governance.core.policyfiles import PolicyFileError
            from governance.core.storage import ObjectStoreError

            if isinstance(exc, (PolicyFileError, DurationError, KeyHistoryError, SettingsError)):
                raise click.ClickException(f"configuration error: {_reason(exc)}") from None
            if isinstance(exc, Problem):
                raise click.ClickException(_reason(exc.detail)) from None
            if isinstance(exc, ObjectStoreError):
                raise click.ClickException(f"object store: {_reason(exc)}") from None
            if isinstance(exc, _database_errors()):
                raise click.ClickException(_reason(exc)) from None
            raise

    def main(self, args: Sequence[str] | None = None, *rest: Any, **extra: Any) -> NoReturn:
        extra["standalone_mode"] = False
        # Piccolo warns on stderr, over several lines, about a database it cannot reach;
        # the command says so itself, in one.
        warnings.filterwarnings("ignore", message=r".*Unable to (connect to database|fetch server version)")
        try:
            result = super().main(args, *rest, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "governance"
            click.echo(f"{where}: {exc.format_message()} (see --help)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"governance: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("governance: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=_Governance)
def main() -> None:
    """Compliance and governance back office for micro-mentoring platforms."""


@main.command()
def migrate() -> None:
    """Apply every pending database migration (and create the keys of a new deployment)."""
    settings = _settings(existing=False)
    asyncio.run(run_migrations(settings))
    click.echo("migrations applied", err=True)


async def run_migrations(settings: Settings) -> None:
    """Apply pending migrations; a new deployment also gets its keys here, so that every
    other command finds one complete deployment or refuses."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from governance.audit import service as audit_service
    from governance.core import db
    from governance.core.crypto import LocalMasterKey
    from governance.core.identity import jwt_secret

    jwt_secret(settings)
    LocalMasterKey.load_or_create(settings.effective_master_key_file)
    audit_service.load_log_key(settings)
    await _open_database(settings)
    try:
        result = await run_forwards(app_name="all", fake=False)
    finally:
        await db.stop()
    if not result.success:
        raise click.ClickException(f"migration failed: {result.message}")


@main.command()
@click.option("--migrate/--no-migrate", "apply_migrations", default=True, help="Apply migrations first.")
def serve(apply_migrations: bool) -> None:
    """Serve the API (GOVERNANCE_HOST:GOVERNANCE_PORT)."""
    import uvicorn

    settings = _settings(existing=False)
    if apply_migrations:
        asyncio.run(run_migrations(settings))
    uvicorn.run(
        "governance.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=None,
        # The application decides whom to believe (GOVERNANCE_TRUSTED_PROXIES), not uvicorn,
        # whose default trusts X-Forwarded-For from 127.0.0.1.
        proxy_headers=False,
    )


@main.group()
def token() -> None:
    """Bearer tokens."""


@token.command("issue")
@click.option("--sub", required=True, help="The subject the token identifies.")
@click.option("--role", "roles", required=True, multiple=True, help="A role; repeat for several.")
@click.option("--ttl", default="P1D", show_default=True, help="Lifetime, ISO 8601 duration.")
def token_issue(sub: str, roles: tuple[str, ...], ttl: str) -> None:
    """Print one bearer token on stdout."""
    from governance.core.durations import DurationError, parse_duration
    from governance.core.identity import issue_token

    try:
        lifetime = parse_duration(ttl).to_timedelta()
        click.echo(issue_token(_settings(), sub, list(roles), lifetime))
    except (DurationError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None


@token.command("link")
@click.option("--sub", required=True, help="The subject the link signs in.")
@click.option("--role", "roles", required=True, multiple=True, help="A role; repeat for several.")
def token_link(sub: str, roles: tuple[str, ...]) -> None:
    """Print a one-time sign-in link for the pages (single use, valid GOVERNANCE_SIGN_IN_LINK_LIFETIME)."""
    from governance.core.identity import ROLES, SYSTEM, Identity, valid_subject
    from governance.web import sessions

    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise click.BadParameter(f"unknown role(s) {', '.join(unknown)}; known roles: {', '.join(ROLES)}")
    if not valid_subject(sub):
        raise click.BadParameter("a subject is 1 to 200 printable characters", param_hint="--sub")
    services = _services()
    identity = Identity(sub=sub, roles=tuple(dict.fromkeys(roles)))
    link = _with_database(
        services.settings,
        lambda: sessions.issue_link(
            services.web, identity, services.clock.now(), kind=sessions.STAFF, issued_by=SYSTEM
        ),
    )
    click.echo(link.url)
    click.echo(f"single use, valid until {link.expires_at.isoformat()}", err=True)


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the log as it stands and print it."""
    from governance.audit import service

    settings = _settings()
    log_key = service.load_log_key(settings)
    checkpoint = _with_database(settings, lambda: service.sign_checkpoint(log_key))
    click.echo(checkpoint.note, nl=False)


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--since",
    "since",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint saved earlier (from /tlog/checkpoint or a witness): prove that today's log extends it.",
)
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="A witness's verifier key (`governance witness vkey`): the log must agree with every checkpoint "
    "it cosigned. Repeat for several.",
)
def audit_verify(as_json: bool, since: Path | None, witness_keys: tuple[str, ...]) -> None:
    """Recompute every leaf hash and every checkpoint root, check that the checkpoints are
    numbered without gaps, with --witness that the log agrees with every checkpoint those
    witnesses cosigned, and with --since that the log extends a checkpoint saved earlier;
    exit 1 when the log does not verify."""
    from governance.audit import cosignature, note, service

    settings = _settings()
    log_key = service.load_log_key(settings)
    try:
        witnesses = [cosignature.parse_cosigner_key(key) for key in witness_keys]
    except note.NoteError as exc:
        raise click.BadParameter(str(exc), param_hint="--witness") from None
    if since is None:
        result = _with_database(settings, lambda: service.verify(log_key, witnesses))
    else:
        try:
            saved = since.read_text(encoding="utf-8")
            log_key.open_checkpoint(saved)
        except (UnicodeDecodeError, ValueError) as exc:
            raise click.BadParameter(
                f"not a checkpoint signed by this log's key: {exc}", param_hint="--since"
            ) from None
        result = _with_database(settings, lambda: service.verify_since(log_key, saved, witnesses))
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(result)).decode())
    else:
        verdict = "OK" if result.ok else "FAILED"
        click.echo(f"{verdict}: {result.size} entries, root {result.root}, {result.checkpoints_checked} checkpoints")
        for problem in result.problems:
            click.echo(f"  - {problem}")
    sys.exit(0 if result.ok else 1)


@audit.command("export")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--since-seq",
    default=0,
    type=click.IntRange(min=0),
    help="Leave out the entries before this one (a prefix line binds them to the checkpoint).",
)
def audit_export(out_path: Path, since_seq: int) -> None:
    """Export the log as JSON lines with a fresh signed checkpoint and the verifier key."""
    from governance.audit import service

    settings = _settings()
    log_key = service.load_log_key(settings)

    async def work() -> Any:
        try:
            prepared = await service.prepare_export(log_key, since_seq)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since-seq") from None
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with out_path.open("wb") as out:
            async for chunk in prepared.lines():
                out.write(chunk)
        return prepared.tree_size - since_seq

    count = _with_database(settings, work)
    click.echo(f"exported {count} entries to {out_path}", err=True)


_OFFLINE_KEY = click.option(
    "--key",
    "vkey",
    required=True,
    help="The log's verifier key (GET /api/v1/audit/public-key), pinned through a channel you trust.",
)
_OFFLINE_WITNESSES = click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="A witness's verifier key: its cosignature of the proof's checkpoint must verify. Repeat for several.",
)


def _witness_keys(given: tuple[str, ...]) -> list[Any]:
    from governance.audit import cosignature, note

    try:
        return [cosignature.parse_cosigner_key(key) for key in given]
    except note.NoteError as exc:
        raise click.BadParameter(str(exc), param_hint="--witness") from None


def _read_text(path: Path, hint: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.BadParameter("not UTF-8 text", param_hint=hint) from None


@audit.command("verify-proof")
@click.argument("proof_path", metavar="PROOF", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_OFFLINE_KEY
@_OFFLINE_WITNESSES
@click.option(
    "--entry",
    "entry_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The entry's exact leaf input, for a proof without an extra line (GET /api/v1/audit/entries/{seq}/proof).",
)
def audit_verify_proof(proof_path: Path, vkey: str, witness_keys: tuple[str, ...], entry_path: Path | None) -> None:
    """Check a c2sp.org/tlog-proof@v1 file offline (no database, no network): its checkpoint is
    signed by --key (and cosigned by each --witness), and the entry it carries (or --entry)
    is in that checkpoint's tree. Prints the entry; exit 1 when the proof does not hold."""
    from governance.audit import proof_file

    entry = entry_path.read_bytes().rstrip(b"\n") if entry_path is not None else None
    try:
        proven = proof_file.verify(
            _read_text(proof_path, "PROOF"), vkey, entry=entry, witnesses=_witness_keys(witness_keys)
        )
    except ValueError as exc:
        click.echo(f"FAILED: {_reason(exc)}")
        sys.exit(1)
    checkpoint = proven.checkpoint
    witnessed = f", cosigned by {', '.join(proven.witnessed_by)}" if proven.witnessed_by else ""
    click.echo(
        f"OK: entry {proven.index} is in the checkpoint of {checkpoint.origin} at size {checkpoint.size}{witnessed}"
    )
    click.echo(proven.entry.decode(errors="replace"))


@main.group()
def complaints() -> None:
    """Complaints, refunds and disputes."""


@complaints.command("sla-scan")
def complaints_sla_scan() -> None:
    """Flag and escalate every complaint and dispute tier past its SLA deadline (for cron)."""
    from datetime import UTC, datetime

    from governance.complaints.config import Complaints
    from governance.complaints.policy import PolicyError
    from governance.complaints.scan import run_scan
    from governance.core.crypto import Keyring, LocalMasterKey

    settings = _settings()
    # Only what the scan needs, not the whole service: a broken sla.toml is named before anything else.
    keyring = Keyring(LocalMasterKey.load_or_create(settings.effective_master_key_file))
    try:
        complaints = Complaints.configure(settings, keyring)
    except PolicyError as exc:
        raise click.ClickException(f"SLA policy error: {exc}") from None
    result = _with_database(settings, lambda: run_scan(complaints, datetime.now(UTC)))
    click.echo(f"flagged {result.complaints_flagged} complaints and {result.disputes_flagged} disputes")


@main.group()
def vetting() -> None:
    """Mentor vetting."""


@vetting.command("expire")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def vetting_expire(as_json: bool) -> None:
    """Expire checks past their validity, lapse their mentors, announce reminders (for cron)."""
    from governance.vetting import expiry

    services = _services()
    result = _with_database(services.settings, lambda: expiry.run(services.vetting, services.clock.now()))
    if as_json:
        click.echo(msgspec.json.encode(result).decode())
    else:
        click.echo(
            f"{result.checks_expired} checks expired, {result.mentors_lapsed} mentors lapsed, "
            f"{result.reminders_announced} reminders announced"
        )


# --- privacy ------------------------------------------------------------------------------


@main.group()
def retention() -> None:
    """Retention of mentee data (policies/retention.toml)."""


@retention.command("sweep")
@click.option("--dry-run", is_flag=True, help="List what is due and what is held; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def retention_sweep(dry_run: bool, as_json: bool) -> None:
    """Delete or anonymise what is due, except what a legal hold keeps (audited; for cron)."""
    from governance.privacy import retention as service

    services = _services()
    result = _with_database(
        services.settings, lambda: service.sweep(services.privacy, services.clock.now(), dry_run=dry_run)
    )
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(result)).decode())
        return
    counts: dict[str, int] = dict(result.deleted)
    if dry_run:
        for line in result.due:
            counts[line.category] = counts.get(line.category, 0) + 1
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb}: " + (", ".join(f"{n} {c}" for c, n in sorted(counts.items())) or "nothing"))
    if result.held_keys_destroyed:
        done = "would destroy" if dry_run else "destroyed"
        click.echo(f"{done}: {result.held_keys_destroyed} case keys kept by erasures whose legal hold ended")
    for line in result.due if dry_run else []:
        click.echo(f"  due   {line.category} {line.record_type} {line.record_id} (due {line.due_at.isoformat()})")
    for line in result.held_records:
        reasons = "; ".join(f"{h['reason']} ({h['module']} {h['record_type']} {h['record_id']})" for h in line.held_by)
        click.echo(f"  held  {line.category} {line.record_type} {line.record_id}: {reasons}")


@main.group()
def privacy() -> None:
    """Mentee privacy."""


@privacy.command("expire")
@click.option("--json", "as_json", is_flag=True, help="Print the count as JSON.")
def privacy_expire(as_json: bool) -> None:
    """Record the lapse of consents past their validity (method expired; for cron)."""
    from governance.privacy import consent

    services = _services()
    result = _with_database(services.settings, lambda: consent.expire(services.privacy, services.clock.now()))
    click.echo(msgspec.json.encode(result).decode() if as_json else f"{result.lapsed} consents lapsed")


# --- evidence bundles ---------------------------------------------------------------------


@main.command()
@click.option("--poll", default=2.0, show_default=True, help="Seconds between looks at the queue when idle.")
def worker(poll: float) -> None:
    """Produce queued evidence bundles until interrupted (any number of workers may run)."""
    import signal

    from governance.evidence import worker as bundle_worker

    services = _services()

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await bundle_worker.run(services.evidence, services.clock, stop, poll)

    _with_database(services.settings, work)


@main.group()
def evidence() -> None:
    """Evidence bundles for accreditors."""


@evidence.command("export")
@click.option("--from", "period_start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--to", "period_end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC).")
@click.option("--title", default=None, help="Printed on the cover (default: Evidence bundle FROM to TO).")
@click.option("--section", "sections", multiple=True, help="Only these sections; repeat for several.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="PDF file to write.")
@click.option("--as", "requester", default=None, help="Who asks, as recorded in the log (default cli:<user>).")
def evidence_export(
    period_start: Any,
    period_end: Any,
    title: str | None,
    sections: tuple[str, ...],
    out_path: Path | None,
    requester: str | None,
) -> None:
    """Render a bundle for the period here, with a progress bar: requested, produced, stored
    and audited exactly as through the API; the PDF and manifest.json are written locally."""
    import getpass

    from governance.core.errors import Problem
    from governance.core.identity import Identity
    from governance.evidence import jobs, service
    from governance.evidence.schemas import BundleRequest
    from governance.evidence.worker import worker_name

    services = _services()
    evidence_setup = services.evidence
    start, end = period_start.date(), period_end.date()
    try:
        request = msgspec.convert(
            {
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "title": title or f"Evidence bundle {start.isoformat()} to {end.isoformat()}",
                "sections": list(sections) or None,
            },
            BundleRequest,
        )
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc)) from None
    actor = Identity(sub=requester or f"cli:{getpass.getuser()}", roles=("operator",))
    clock = services.clock

    async def work() -> Any:
        bundle = await service.request(request, actor, clock.now())
        worker = worker_name()
        row = await jobs.claim(worker, clock.now(), evidence_setup.lease, bundle.id)
        if row is None:  # pragma: no cover - an in-service worker was quicker
            raise click.ClickException(f"bundle {bundle.id} was taken by another worker; follow it through the API")
        with click.progressbar(length=1000, label=f"bundle {bundle.id}", file=sys.stderr) as bar:
            done = 0

            def advance(share: float) -> None:
                nonlocal done
                step = int(share * 1000) - done
                if step > 0:
                    bar.update(step)
                    done += step

            await jobs.produce(evidence_setup, row, worker, clock, on_progress=advance)
        finished = await service.get(bundle.id)
        if finished.state != "ready":
            raise click.ClickException(f"bundle {bundle.id} failed: {finished.failure_reason}")
        target = out_path or Path(f"evidence-{bundle.id}.pdf")
        manifest_path = target.with_name(target.stem + ".manifest.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        for file, path in (("pdf", target), ("manifest", manifest_path)):
            with path.open("wb") as out:
                async for chunk in evidence_setup.store.stream(service.object_key(bundle.id, file)):
                    out.write(chunk)
        return finished, target, manifest_path

    try:
        finished, target, manifest_path = _with_database(services.settings, work)
    except Problem as exc:
        errors = (exc.extra or {}).get("errors") if isinstance(exc.extra, dict) else None
        reason = "; ".join(f"{e['field']}: {e['message']}" for e in errors) if errors else exc.detail
        raise click.ClickException(str(reason)) from None
    click.echo(f"bundle {finished.id}: {finished.pages} pages, sha256 {finished.pdf_sha256}", err=True)
    click.echo(f"wrote {target} and {manifest_path}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()


@evidence.command("verify-manifest")
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_OFFLINE_KEY
@_OFFLINE_WITNESSES
@click.option("--pdf", "pdf_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="bundle.pdf")
@click.option(
    "--ready-proof",
    "ready_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The bundle's ready proof (GET /api/v1/evidence/bundles/{id}/proof).",
)
def evidence_verify_manifest(
    manifest_path: Path, vkey: str, witness_keys: tuple[str, ...], pdf_path: Path | None, ready_path: Path | None
) -> None:
    """Check a bundle's manifest.json offline: its seal's proof holds under --key (and each
    --witness), and the sealed entry names this bundle and the SHA-256 of these contents (a
    changed figure, artifact or checkpoint fails). With --pdf and --ready-proof, that the
    ready entry records both files' SHA-256 and this seal. Exit 1 when anything fails."""
    from governance.evidence import seal

    check = seal.verify_manifest(
        manifest_path.read_bytes(),
        vkey,
        _witness_keys(witness_keys),
        pdf=pdf_path.read_bytes() if pdf_path is not None else None,
        ready_proof=_read_text(ready_path, "--ready-proof") if ready_path is not None else None,
    )
    if check.ok and check.proven is not None:
        size = check.proven.checkpoint.size
        click.echo(
            f"OK: contents {check.contents_sha256} sealed by entry {check.proven.index} (checkpoint size {size})"
        )
        return
    click.echo("FAILED")
    for problem in check.problems:
        click.echo(f"  - {problem}")
    sys.exit(1)


@main.group()
def witness() -> None:
    """A transparency log witness (c2sp.org/tlog-witness), run by someone other than the log."""


_WITNESS_KEY = click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The witness's Ed25519 key (PKCS#8 PEM), created when missing; its state file lies beside it.",
)
_WITNESS_NAME = click.option("--name", required=True, help="The witness's name, such as accreditor.example/witness.")


def _cosigner(key_file: Path, name: str) -> Any:
    from governance.audit import cosignature, note, witness

    try:
        return cosignature.Cosigner(name, witness.load_or_create_key(key_file))
    except note.NoteError as exc:
        raise click.BadParameter(str(exc), param_hint="--name") from None
    except (OSError, ValueError) as exc:
        raise click.BadParameter(_reason(exc), param_hint="--key") from None


@witness.command("vkey")
@_WITNESS_KEY
@_WITNESS_NAME
def witness_vkey(key_file: Path, name: str) -> None:
    """Print the witness's verifier key (for GOVERNANCE_WITNESSES and `audit verify --witness`)."""
    click.echo(_cosigner(key_file, name).key.encode())


@witness.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", required=True, type=click.IntRange(1, 65535))
@_WITNESS_KEY
@_WITNESS_NAME
@click.option(
    "--log",
    "logs",
    multiple=True,
    required=True,
    help="A log to witness, as ORIGIN=VKEY (its checkpoint verifier key); repeat for several logs, "
    "or for one log's old and new keys while it rotates.",
)
def witness_serve(host: str, port: int, key_file: Path, name: str, logs: tuple[str, ...]) -> None:
    """Cosign checkpoints of the given logs that extend those cosigned before (POST /add-checkpoint)."""
    import uvicorn

    from governance.audit import note, witness

    known: dict[str, list[note.VerifierKey]] = {}
    for given in logs:
        origin, equals, vkey = given.partition("=")
        try:
            verifier = note.parse_verifier_key(vkey) if equals else None
        except note.NoteError as exc:
            raise click.BadParameter(f"{given}: {exc}", param_hint="--log") from None
        if verifier is None or verifier.name != origin:
            raise click.BadParameter(f"{given}: expected ORIGIN=VKEY, the key named for the origin", param_hint="--log")
        known.setdefault(origin, []).append(verifier)  # a rotating log: its old and new keys
    cosigner = _cosigner(key_file, name)
    try:
        state = witness.State(witness.state_path(key_file))
    except (OSError, ValueError, KeyError) as exc:
        raise click.BadParameter(f"its state file is unreadable: {_reason(exc)}", param_hint="--key") from None
    app = witness.application(witness.Witness(cosigner, known, state))
    click.echo(f"witness {cosigner.key.encode()} on http://{host}:{port}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@witness.command("latest")
@_WITNESS_KEY
@click.option("--origin", required=True, help="The log's origin, as given to --log.")
def witness_latest(key_file: Path, origin: str) -> None:
    """Print the last checkpoint this witness cosigned for the log, its cosignature attached:
    what `governance audit verify --since` takes."""
    from governance.audit import witness

    path = witness.state_path(key_file)
    try:
        latest = witness.State(path).latest(origin) if path.exists() else None
    except (OSError, ValueError, KeyError) as exc:
        raise click.BadParameter(f"its state file is unreadable: {_reason(exc)}", param_hint="--key") from None
    if latest is None:
        raise click.ClickException(f"this witness has cosigned no checkpoint of {origin}")
    click.echo(latest, nl=False)
