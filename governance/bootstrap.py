"""Everything the program runs on, built once: the app, the CLI, the worker and the tests start here.

:func:`build` reads the keys, the object store and every policy file, configures each
domain and connects their hooks (:mod:`governance.wiring`); a mistake in any of them
stops the start, before a request is served or a command touches the database. The
result, :class:`Services`, is immutable: nothing is rebuilt or swapped while it runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from governance.audit import sequencer as audit_sequencer
from governance.audit import service as audit
from governance.audit import witnesses as audit_witnesses
from governance.complaints import attestations
from governance.complaints.attestation_templates import Templates, load_templates
from governance.complaints.config import Complaints
from governance.complaints.scan import run_scan
from governance.core.authz import Authorizer
from governance.core.clock import Clock, SystemClock
from governance.core.crypto import Keyring, LocalMasterKey
from governance.core.storage import ObjectStore, object_store
from governance.credentials.keys import Issuer, load_issuer
from governance.evidence.service import Evidence
from governance.privacy import consent as privacy_consent
from governance.privacy import retention as privacy_retention
from governance.privacy.service import Privacy
from governance.settings import Settings, SettingsError
from governance.vetting import expiry as vetting_expiry
from governance.vetting.dossier import DossierCache
from governance.vetting.service import Vetting
from governance.web import sessions as web_sessions
from governance.web.config import Web
from governance.wiring import connect_domains, export_document, record_denial, subject_registry


@dataclass(frozen=True, slots=True)
class Job:
    """Periodic work the service does itself; an interval of 0 leaves it to cron (the CLI)."""

    name: str
    interval: timedelta
    work: Callable[[], Awaitable[Any]]
    # A job that catches up on what fell due while the service was down runs at start too.
    at_start: bool = False

    @property
    def enabled(self) -> bool:
        return self.interval.total_seconds() > 0


@dataclass(frozen=True, slots=True)
class Services:
    """What the program runs on: settings, clock, keys, store, the guard, each domain's configuration."""

    settings: Settings
    clock: Clock
    keyring: Keyring
    store: ObjectStore
    log_key: audit.LogKey
    authorizer: Authorizer
    vetting: Vetting
    privacy: Privacy
    complaints: Complaints
    evidence: Evidence
    web: Web
    # The log's witnesses (GOVERNANCE_WITNESSES) and what this instance knows of each.
    witnesses: audit_witnesses.Witnesses
    issuer: Issuer
    attestation_templates: Templates
    # Rendered dossiers, per process (kept fresh by the mentor's version).
    dossier_cache: DossierCache = field(default_factory=DossierCache)

    @property
    def jobs(self) -> list[Job]:
        """The periodic jobs, in the order they start (the evidence worker runs on its own)."""
        settings, clock = self.settings, self.clock
        return [
            Job("audit_sequencer", settings.sequencer_interval, audit_sequencer.job, at_start=True),
            Job(
                "checkpoint",
                settings.checkpoint_interval,
                lambda: audit_witnesses.sign_and_submit(self.log_key, self.witnesses),
            ),
            Job(
                "vetting_expiry",
                settings.vetting_expiry_interval,
                lambda: vetting_expiry.run(self.vetting, clock.now()),
                at_start=True,
            ),
            Job("sla_scan", settings.sla_scan_interval, lambda: run_scan(self.complaints, clock.now())),
            Job(
                "consent_expiry",
                settings.consent_expiry_interval,
                lambda: privacy_consent.expire(self.privacy, clock.now()),
                at_start=True,
            ),
            Job(
                "retention_sweep",
                settings.retention_sweep_interval,
                lambda: privacy_retention.sweep(self.privacy, clock.now(), dry_run=False),
                at_start=True,
            ),
            Job(
                "session_sweep", settings.session_sweep_interval, lambda: web_sessions.purge(clock.now()), at_start=True
            ),
        ]


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> Services:
    """Build everything ``settings`` (read from the environment when omitted) describe.

    ``clock`` is the time every time-dependent rule reads (the system's by default);
    tests pass a :class:`~governance.core.clock.ManualClock` to move time.
    """
    settings = settings or Settings.from_env()
    # The order in which create_app has always read them, so the first mistake reported stays the same.
    log_key = audit.load_log_key(settings)
    try:
        witnesses = audit_witnesses.parse(settings.witnesses, settings.witness_quorum)
    except audit_witnesses.WitnessConfigError as exc:
        raise SettingsError(str(exc)) from None
    keyring = Keyring(LocalMasterKey.load_or_create(settings.effective_master_key_file))
    authorizer = Authorizer(settings.effective_policy_dir, on_denied=record_denial)
    connect_domains()
    complaints = Complaints.configure(settings, keyring)
    store = object_store(settings)
    vetting = Vetting.configure(settings, keyring, store)
    privacy = Privacy.configure(settings, keyring, store, subject_registry(keyring, store), export_document)
    evidence = Evidence.configure(settings, vetting, log_key, store, witnesses)
    templates = load_templates(settings.effective_policy_dir)
    attestations.use_templates(templates)
    return Services(
        settings=settings,
        clock=clock or SystemClock(),
        keyring=keyring,
        store=store,
        log_key=log_key,
        authorizer=authorizer,
        vetting=vetting,
        privacy=privacy,
        complaints=complaints,
        evidence=evidence,
        web=Web.configure(settings),
        witnesses=witnesses,
        issuer=load_issuer(settings),
        attestation_templates=templates,
    )
