"""Typed settings, read once from ``GOVERNANCE_*`` environment variables.

Every value is validated at start-up; a bad one stops the service with a message that
names the variable, so a misconfigured deployment never half-starts. Defaults are the
embedded ones: everything lives under ``GOVERNANCE_DATA_DIR`` (``./var``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from governance.core.durations import Duration, DurationError, parse_duration, parse_seconds_or_duration

PREFIX = "GOVERNANCE_"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
# A signed-note key name: no spaces, no '+', as C2SP signed-note requires.
Origin = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\s+]+$(?!\n)")]


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The whole configuration of one instance. Field ``x`` is read from ``GOVERNANCE_X``."""

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: Port = 8000
    workers: PositiveInt = 1
    data_dir: Path = Path("var")
    database_url: str = ""
    database_pool_size: PositiveInt = 10
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "console", "json"] = "auto"
    jwt_secret: str = ""
    jwt_issuer: str = "governance"
    master_key_file: Path | None = None
    checkpoint_key_file: Path | None = None
    # The retired checkpoint keys and the sizes each signed (see governance.audit.keys).
    checkpoint_key_history: Path | None = None
    # Credentials: the Ed25519 key that signs them (PEM, PKCS#8) and, after a rotation, the
    # earlier keys' files (comma-separated), still listed in did.json so old credentials verify.
    credential_key_file: Path | None = None
    credential_retired_key_files: tuple[str, ...] = ()
    # How long a verifier may cache a served status list (its `ttl` and Cache-Control).
    credential_status_ttl: timedelta = timedelta(minutes=5)
    log_origin: Origin = "governance.localhost/audit"
    checkpoint_interval: timedelta = timedelta(seconds=10)
    # Witnesses (c2sp.org/tlog-witness) as URL=VKEY pairs, and how many must cosign a
    # checkpoint for it to count as witnessed.
    witnesses: tuple[str, ...] = ()
    witness_quorum: PositiveInt = 1
    # How often the sequencer looks for queued audit entries (0: never here; another
    # instance or `governance audit checkpoint` numbers them).
    sequencer_interval: timedelta = timedelta(milliseconds=20)
    max_request_body_bytes: PositiveInt = 16 * 1024 * 1024
    # Requests per minute per authenticated subject, per instance (0: no limit). High enough
    # for a platform's service account checking permissions before every share.
    rate_limit: NonNegativeInt = 6000
    # Proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed; nobody else's is.
    trusted_proxies: tuple[str, ...] = ()
    object_store_dir: Path | None = None
    policy_dir: Path | None = None
    # S3 (or any S3-compatible endpoint) instead of the local object store, when a bucket is named.
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    # Vetting.
    max_document_bytes: PositiveInt = 10 * 1024 * 1024
    vetting_expiry_interval: timedelta = timedelta(hours=1)
    # Privacy.
    consent_expiry_interval: timedelta = timedelta(hours=1)
    retention_sweep_interval: timedelta = timedelta(hours=24)
    retention_sweep_batch: PositiveInt = 200
    refund_four_eyes_threshold_minor: NonNegativeInt = 10_000
    complaint_appeal_window: timedelta = timedelta(days=30)
    sla_scan_interval: timedelta = timedelta(seconds=60)
    attestation_status_rate_limit: PositiveInt = 60
    # Evidence bundles: how often the in-service worker looks for queued bundles (0: none in
    # the service; run `governance worker`), and how long a worker may go silent before
    # another takes its bundle over.
    evidence_poll_interval: timedelta = timedelta(seconds=2)
    evidence_lease: timedelta = timedelta(seconds=60)
    # How long stored bundles are retained (S3 Object Lock, COMPLIANCE mode). A
    # calendar duration (years count as years), hence not a timedelta.
    evidence_retention: Duration = Duration(years=6)
    # Pages: the address people reach the service at (links the service prints, Secure
    # cookies when https); empty: http://<host>:<port>, where `serve` listens.
    public_url: str = ""
    session_lifetime: timedelta = timedelta(hours=8)
    portal_session_lifetime: timedelta = timedelta(minutes=30)
    sign_in_link_lifetime: timedelta = timedelta(minutes=5)
    session_sweep_interval: timedelta = timedelta(hours=1)
    # Sign-in attempts (token or link) per minute per client address: each failure is an
    # audit entry that anyone can cause, so their rate is bounded.
    sign_in_rate_limit: PositiveInt = 30
    # URL prefixes a mentee portal session may send the mentee back to (none by default).
    portal_return_urls: tuple[str, ...] = ()

    # Derived locations: the embedded defaults all sit under data_dir.
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'governance.sqlite3'}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_postgres(self) -> bool:
        return urlsplit(self.effective_database_url).scheme in {"postgres", "postgresql"}

    @property
    def sqlite_path(self) -> Path:
        url = self.effective_database_url
        return Path(url.removeprefix("sqlite:///"))

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def effective_master_key_file(self) -> Path:
        return self.master_key_file or self.keys_dir / "master.key"

    @property
    def effective_checkpoint_key_file(self) -> Path:
        return self.checkpoint_key_file or self.keys_dir / "checkpoint-ed25519.pem"

    @property
    def effective_checkpoint_key_history(self) -> Path:
        return self.checkpoint_key_history or self.keys_dir / "checkpoint-key-history.txt"

    @property
    def effective_credential_key_file(self) -> Path:
        return self.credential_key_file or self.keys_dir / "credential-ed25519.pem"

    @property
    def jwt_secret_file(self) -> Path:
        return self.keys_dir / "jwt.secret"

    @property
    def effective_object_store_dir(self) -> Path:
        return self.object_store_dir or self.data_dir / "objects"

    @property
    def effective_policy_dir(self) -> Path:
        # The repository's policies/ (also copied into the container image beside the package).
        return self.policy_dir or Path(__file__).resolve().parents[1] / "policies"

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and self.env == "production")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every ``GOVERNANCE_*`` variable; raise :class:`SettingsError` on the first bad one."""
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for name in cls.__struct_fields__:
            value = environ.get(PREFIX + name.upper())
            if value is None or value == "":
                continue
            raw[name] = _parse_special(name, value)
        try:
            settings = msgspec.convert(raw, cls, strict=False, dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            raise SettingsError(_name_the_variable(str(exc), raw)) from None
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field rules msgspec constraints cannot express."""
        scheme = urlsplit(self.effective_database_url).scheme
        if scheme not in {"sqlite", "postgres", "postgresql"}:
            raise SettingsError(
                f"{PREFIX}DATABASE_URL: scheme {scheme!r} is not supported; use sqlite:///PATH or postgresql://..."
            )
        if self.jwt_secret and len(self.jwt_secret.encode()) < 32:
            raise SettingsError(f"{PREFIX}JWT_SECRET: must be at least 32 bytes for HS256")
        for name in DURATION_FIELDS:
            if getattr(self, name) < timedelta(0):
                raise SettingsError(f"{PREFIX}{name.upper()}: must not be negative")
        if self.evidence_lease <= timedelta(0):
            # A lease of nothing would let every worker take every running bundle over at once.
            raise SettingsError(f"{PREFIX}EVIDENCE_LEASE: must be longer than zero")
        for name in CALENDAR_DURATION_FIELDS:
            duration: Duration = getattr(self, name)
            if duration.is_exact and duration.exact <= timedelta(0):
                raise SettingsError(f"{PREFIX}{name.upper()}: must be longer than zero")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(f"{PREFIX}TRUSTED_PROXIES: {proxy!r} is not an IP address or CIDR range") from None
        for name in ("session_lifetime", "portal_session_lifetime", "sign_in_link_lifetime"):
            if getattr(self, name) <= timedelta(0):
                raise SettingsError(f"{PREFIX}{name.upper()}: must be longer than zero")
        if self.public_url and not _is_http_url(self.public_url):
            raise SettingsError(
                f"{PREFIX}PUBLIC_URL: {self.public_url!r} is not an absolute http or https URL "
                "without credentials, query or fragment"
            )
        for prefix in self.portal_return_urls:
            if not _is_http_url(prefix):
                raise SettingsError(
                    f"{PREFIX}PORTAL_RETURN_URLS: {prefix!r} is not an absolute http or https URL "
                    "without credentials, query or fragment"
                )
        if self.max_document_bytes > self.max_request_body_bytes:
            raise SettingsError(
                f"{PREFIX}MAX_DOCUMENT_BYTES: larger than {PREFIX}MAX_REQUEST_BODY_BYTES, so it could never be reached"
            )
        if self.env == "production":
            # Instances behind a load balancer must share one database and one set of keys;
            # implicit per-instance defaults would split them silently.
            required = {
                "DATABASE_URL": self.database_url,
                "JWT_SECRET": self.jwt_secret,
                "MASTER_KEY_FILE": self.master_key_file,
                "CHECKPOINT_KEY_FILE": self.checkpoint_key_file,
                "CREDENTIAL_KEY_FILE": self.credential_key_file,
            }
            for name, value in required.items():
                if not value:
                    raise SettingsError(f"{PREFIX}{name}: required when {PREFIX}ENV=production")


DURATION_FIELDS = (
    "checkpoint_interval",
    "sequencer_interval",
    "vetting_expiry_interval",
    # privacy
    "consent_expiry_interval",
    "retention_sweep_interval",
    "complaint_appeal_window",
    "sla_scan_interval",
    "evidence_poll_interval",
    "evidence_lease",
    # pages
    "session_lifetime",
    "portal_session_lifetime",
    "sign_in_link_lifetime",
    "session_sweep_interval",
    # credentials
    "credential_status_ttl",
)

# ISO 8601 durations that may have years and months (``P6Y``): kept as a Duration.
CALENDAR_DURATION_FIELDS = ("evidence_retention",)


def _is_http_url(value: str) -> bool:
    """An absolute http(s) URL naming a host, without credentials, query or fragment."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and not parts.query
        and not parts.fragment
        and "\\" not in value
        and not any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)
    )


def _parse_special(name: str, value: str) -> Any:
    if name in {"trusted_proxies", "portal_return_urls", "witnesses", "credential_retired_key_files"}:
        return [entry.strip() for entry in value.split(",") if entry.strip()]
    if name in DURATION_FIELDS:
        try:
            return parse_seconds_or_duration(value)
        except DurationError as exc:
            raise SettingsError(f"{PREFIX}{name.upper()}: {exc}") from None
    if name in CALENDAR_DURATION_FIELDS:
        try:
            return parse_duration(value)
        except DurationError as exc:
            raise SettingsError(f"{PREFIX}{name.upper()}: {exc}") from None
    return value


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Path and isinstance(obj, str):
        return Path(obj)
    if type_ is timedelta and isinstance(obj, timedelta):
        return obj
    raise NotImplementedError


def _name_the_variable(message: str, raw: Mapping[str, Any]) -> str:
    # msgspec says "... - at `$.port`"; an operator needs the variable name and what they typed.
    head, _, path = message.rpartition(" - at `$.")
    field = path.rstrip("`")
    if not head or field not in raw:
        return message
    return f"{PREFIX}{field.upper()}: {head} (got {raw[field]!r})"
