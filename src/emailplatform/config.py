"""Every setting, with its description and default. The README's settings table is generated from here."""

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DomainThrottle(BaseModel):
    """How much one recipient domain takes from all our processes together; 0: no limit."""

    connections: int = Field(0, ge=0, description="Messages in flight to the domain at once.")
    per_minute: int = Field(0, ge=0, description="Messages a minute to the domain.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMAILPLATFORM_", extra="ignore")

    data_dir: Path = Field(
        Path("emailplatform-data"),
        description="Where the embedded default keeps its SQLite database, stored files and secret key.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy or plain URL of the database (`postgresql://user:pass@host/db`); empty: SQLite in the "
        "data dir.",
    )
    read_database_url: str = Field(
        "",
        description="URL of a read-only PostgreSQL streaming replica of `database_url` that the analytics API and the "
        "web UI's analytics, dashboard and campaign list pages read from (they may lag the primary by the "
        "replica's replay delay); sends, writes and whatever reads its own writes use the primary. Empty: "
        "everything uses the primary.",
    )
    db_pool_size: int = Field(
        10, ge=1, le=1000, description="Database connections each process keeps open in its pool."
    )
    db_max_overflow: int = Field(
        20,
        ge=0,
        le=1000,
        description="Connections a process may open beyond the pool when it is busy, closed again after use.",
    )
    db_requests_at_once: int = Field(
        3,
        ge=1,
        le=1000,
        description="Requests of one API process that use the database at once (no more than the pool's "
        "connections); the rest wait their turn. A process runs Python on one core: past a few, requests only wait "
        "for each other's turn on it. Raise it for a database far away (round trips of milliseconds).",
    )
    db_pool_timeout_seconds: float = Field(
        3.0,
        gt=0,
        le=300,
        description="How long a request waits for a free connection of a full pool before it answers 503 with "
        "Retry-After.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The base URL clients reach the API at; presigned upload URLs of the local storage start with it.",
    )
    secret_key: str = Field(
        "",
        description="Key that signs upload URLs and tokens; empty: generated once and kept in the data dir.",
    )
    encrypt_at_rest: bool = Field(
        True,
        description="Encrypt stored files (recipient CSVs, batch files, captured messages) and the database's secrets "
        "(DKIM private keys, webhook signing secrets) with envelope encryption under the master keys.",
    )
    master_keys: list[str] = Field(
        default_factory=list,
        description="Master keys (JSON list of base64 32-byte keys; `emailplatform keys new` makes one): the first "
        "encrypts, every one decrypts. Empty: one generated once and kept in the data dir. Set the same "
        "list on every machine.",
    )
    kms_key_id: str = Field(
        "",
        description="AWS KMS key (id, ARN or alias/…) that wraps the data keys instead of the master keys; the master "
        "keys still unwrap what they wrapped before, until `emailplatform keys rotate`. Empty: the master keys.",
    )
    kms_region: str = Field("us-east-1", description="AWS region of the KMS key.")
    kms_endpoint_url: str = Field("", description="KMS endpoint for KMS-compatible servers; empty: AWS.")
    storage_backend: Literal["local", "s3"] = Field(
        "local", description="Where files live: `local` (the data dir) or `s3`."
    )
    s3_bucket: str = Field("emailplatform", description="S3 bucket for files (storage backend `s3`).")
    s3_endpoint_url: str = Field("", description="S3 endpoint for S3-compatible servers; empty: AWS.")
    s3_region: str = Field(
        "us-east-1", description="Region of the S3 bucket (credentials come from the usual AWS settings)."
    )
    transport: Literal["capture", "smtp", "ses"] = Field(
        "capture",
        description="How email leaves: `capture` (kept in storage, listed by the outbox), `smtp` or `ses` (Amazon SES "
        "v2).",
    )
    smtp_url: str = Field(
        "smtp://127.0.0.1:25",
        description="`smtp://user:pass@host:port` (STARTTLS when offered; `?starttls=require` to insist) or "
        "`smtps://` (implicit TLS).",
    )
    smtp_verify_tls: bool = Field(True, description="Verify the SMTP server's TLS certificate.")
    smtp_ca_file: str = Field(
        "", description="A PEM file of CA certificates to trust for SMTP TLS, beside the system's."
    )
    smtp_connections: int = Field(10, ge=1, le=200, description="SMTP connections kept open per worker process.")
    send_unrecorded_limit: int = Field(
        0,
        ge=0,
        le=10_000,
        description="Messages a worker process may have handed to the transport and not yet recorded as sent (0: as "
        "many as its SMTP connections): at most this many go twice if it is killed; more send faster (ten a "
        "connection: two to five times as fast, measured).",
    )
    smtp_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one SMTP command.")
    ses_region: str = Field(
        "us-east-1", description="AWS region of SES (credentials come from the usual AWS settings)."
    )
    ses_configuration_set: str = Field(
        "", description="SES configuration set that publishes events to our SNS endpoint."
    )
    ses_endpoint_url: str = Field("", description="SES endpoint for SES-compatible servers; empty: AWS.")
    sns_cert_host_pattern: str = Field(
        r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$",
        description="Hosts SNS signing certificates and subscription confirmations may come from (a regular "
        "expression).",
    )
    sns_topic_arns: list[str] = Field(
        default_factory=list,
        description="The SNS topics (ARNs, JSON list) the SES events endpoint accepts messages of; empty: any topic, "
        "with a warning logged.",
    )
    bounce_domain: str = Field(
        "",
        description="Domain of the VERP return path (`bounces+<id>@domain`); its MX must reach the inbound listener. "
        "Empty: the sender's domain.",
    )
    inbound_host: str = Field("127.0.0.1", description="Address the inbound SMTP listener (bounces) binds to.")
    inbound_port: int = Field(2525, ge=1, le=65535, description="Port of the inbound SMTP listener.")
    submission_enabled: bool = Field(
        False,
        description="Run the SMTP submission listener (AUTH with an API key as the password) with `serve`; "
        "`emailplatform submission` runs it alone.",
    )
    submission_host: str = Field("127.0.0.1", description="Address the SMTP submission listener binds to.")
    submission_port: int = Field(587, ge=0, le=65535, description="Port of SMTP submission with STARTTLS (0: none).")
    submission_tls_port: int = Field(
        465, ge=0, le=65535, description="Port of SMTP submission over implicit TLS (0: none)."
    )
    submission_cert_file: Path | None = Field(
        None, description="TLS certificate (PEM, with its chain) of SMTP submission."
    )
    submission_key_file: Path | None = Field(None, description="Private key (PEM) of the submission certificate.")
    tracking_url: str = Field("", description="Base URL of open, click and unsubscribe links; empty: the public URL.")
    allow_unverified_domains: bool | None = Field(
        None,
        description="Send from domains that are not registered and verified. Empty: allowed on the embedded SQLite "
        "deployment only.",
    )
    dns_nameservers: list[str] = Field(
        default_factory=list,
        description="DNS servers (`host`, `host:port` or `[v6]:port`) that sending-domain verification asks (JSON "
        "list); empty: the system's resolvers.",
    )
    dns_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="How long one DNS lookup of domain verification may take, retries included: a verify request "
        "waits at most this long.",
    )
    spf_include: str = Field(
        "",
        description="The domain sending domains include in their SPF record. Empty: `amazonses.com` with the SES "
        "transport, else the bounce domain, else the public URL's host.",
    )
    upload_max_bytes: int = Field(100 * 1024 * 1024, gt=0, description="Largest file a presigned upload accepts.")
    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long `serve` waits for a request's headers before it closes the connection (slow clients).",
    )
    http_keep_alive_seconds: int = Field(
        5, ge=1, description="How long `serve` keeps an idle connection open for its next request."
    )
    request_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest request body of every route but presigned uploads (the largest template fits); past it a "
        "413, the rest never read.",
    )
    email_max_bytes: int = Field(
        5 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest transactional email the API and SMTP submission take: its bodies and attachments "
        "(decoded), or the submitted message.",
    )
    upload_url_ttl_seconds: int = Field(3600, gt=0, description="How long a presigned upload URL stays valid.")
    default_batch_size: int = Field(500, ge=1, le=5000, description="Rows per batch when a campaign names none.")
    api_workers: int = Field(
        0,
        ge=0,
        le=256,
        description="API processes that `serve` runs (0: one).",
    )
    worker_processes: int = Field(
        0,
        ge=0,
        le=256,
        description="Worker processes that `serve` and `worker` run, each restarted if it dies; 0: one per core.",
    )
    worker_concurrency: int = Field(4, ge=1, le=64, description="Jobs one worker process runs at once.")
    job_lease_seconds: int = Field(
        10,
        ge=1,
        description="A claimed job's lease, renewed by its worker every third of it: how soon the jobs of a worker "
        "that died are taken over.",
    )
    worker_drain_seconds: int = Field(
        60,
        ge=1,
        description="How long a stopping worker process may take to finish its jobs in flight before it is killed.",
    )
    job_max_attempts: int = Field(8, ge=1, description="Attempts before a failing job is dead.")
    job_retry_base_seconds: float = Field(
        5.0, gt=0, description="Delay before a failed job's second attempt; doubles each time, up to an hour."
    )
    send_max_attempts: int = Field(6, ge=1, description="Attempts (SMTP 4xx answers) before a message fails.")
    send_retry_base_seconds: float = Field(
        60.0, gt=0, description="First delay before a temporarily refused message is retried; doubles each time."
    )
    outcome_window_hours: float = Field(
        72.0,
        gt=0,
        description="How long a sent message waits for an outcome (delivery notice, bounce, complaint); after it, "
        "SENT is final and its batch and campaign can complete.",
    )
    render_timeout_ms: int = Field(200, ge=1, description="Longest one template render may take.")
    render_max_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest output of one template render.")
    idempotency_ttl_hours: int = Field(48, ge=24, description="How long an Idempotency-Key is remembered.")
    retention_files_days: float = Field(
        30,
        ge=0,
        description="Days a finished campaign keeps its source recipients file and its batch files (the recipients' "
        "placeholder data); 0: for ever.",
    )
    retention_captured_days: float = Field(
        30,
        ge=0,
        description="Days the capture transport's .eml files of a finished campaign are kept; 0: for ever.",
    )
    retention_events_days: float = Field(
        0,
        ge=0,
        description="Days a finished campaign keeps its messages' events (opens, clicks, bounces, …); 0: for ever.",
    )
    retention_webhook_logs_days: float = Field(
        30,
        ge=0,
        description="Days finished webhook deliveries and their attempts (request and response logs) are kept; 0: for "
        "ever.",
    )
    retention_audit_days: float = Field(365, ge=0, description="Days audit log entries are kept; 0: for ever.")
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Webhook hosts allowed even though they resolve to private or loopback addresses (JSON list).",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one webhook delivery.")
    webhook_endpoint_concurrency: int = Field(
        8, ge=1, description="Deliveries in flight to one webhook endpoint at once."
    )
    webhook_concurrency: int = Field(
        128,
        ge=1,
        le=1000,
        description="Webhook deliveries one worker process has in flight at once, beside its `worker_concurrency` "
        "other jobs.",
    )
    spamd_address: str = Field(
        "127.0.0.1:783",
        description="SpamAssassin's spamd (`host:port`) that the deliverability check asks for a spam score (Debian: "
        "`apt-get install spamd`); empty: no spam score.",
    )
    spamd_timeout_seconds: float = Field(
        20.0, gt=0, le=300, description="Longest the deliverability check waits for spamd's score."
    )
    link_check_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Timeout of one request of the deliverability check's link check (each redirect too).",
    )
    link_check_max_links: int = Field(
        30,
        ge=0,
        le=200,
        description="Links (and image URLs) of a message the deliverability check asks for; the hosts "
        "`webhook_allowed_hosts` allows may be private.",
    )
    metrics_token: str = Field(
        "",
        description="Bearer token that `/metrics` asks for; empty: `/metrics` is open (keep it off the public "
        "network).",
    )
    redis_url: str = Field(
        "",
        description="Redis (`redis://host:6379/0`) that keeps the rate limits' counters, shared by every process; "
        "empty: each process counts in its own memory.",
    )
    redis_key_prefix: str = Field(
        "emailplatform", description="Prefix of the rate limits' keys in Redis, so deployments can share one Redis."
    )
    api_key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a process trusts an API key it verified without reading it again (0: every request "
        "reads it); a key revoked elsewhere works at most this long in other processes.",
    )
    tls_cert_file: str = Field("", description="PEM certificate (chain) `serve` answers HTTPS with; empty: plain HTTP.")
    tls_key_file: str = Field("", description="The PEM private key of `tls_cert_file`.")
    tls_client_ca_file: str = Field(
        "",
        description="PEM CA certificates that issue client certificates (mutual TLS); empty: `serve` asks for none.",
    )
    tls_client_certificates: Literal["optional", "required"] = Field(
        "optional",
        description="With `tls_client_ca_file`: `required` refuses a TLS connection without a valid client "
        "certificate; `optional` asks for one.",
    )
    tls_proxy_cert_header: str = Field(
        "",
        description="Header in which a TLS-terminating proxy passes the client certificate it verified (URL-encoded "
        "PEM, as nginx's `$ssl_client_escaped_cert`); empty: none.",
    )
    tls_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (JSON list) whose `tls_proxy_cert_header` is believed; from any other the "
        "header is ignored.",
    )
    oidc_issuer: str = Field(
        "",
        description="The OAuth 2.0 / OpenID Connect issuer whose JWTs the API accepts as bearer tokens beside API "
        "keys (its URL, as in the tokens' `iss`); empty: API keys only.",
    )
    oidc_audience: str = Field("", description="The audience (`aud`) a token must be for; required with `oidc_issuer`.")
    oidc_tenant_claim: str = Field(
        "tenant", description="The token claim that names its tenant (the tenant's id or name)."
    )
    oidc_scopes_claim: str = Field(
        "scope", description="The token claim with its scopes (a space-separated string, or a list as `scp`)."
    )
    oidc_algorithms: list[str] = Field(
        ["RS256", "ES256"],
        description="Signature algorithms a token may be signed with (JSON list); `none` and HMAC never.",
    )
    oidc_leeway_seconds: int = Field(
        30, ge=0, le=300, description="Clock skew allowed when a token's `exp` and `nbf` are checked."
    )
    oidc_jwks_cache_seconds: float = Field(
        3600.0, gt=0, description="How long the issuer's signing keys (JWKS) are used before they are fetched again."
    )
    oidc_jwks_min_refetch_seconds: float = Field(
        10.0,
        ge=0,
        description="A token signed by an unknown key fetches the keys again (a rotation), at most once in this time.",
    )
    rate_limit_api_key: str = Field(
        "1000/minute",
        description="Requests one API key may make (a `limits` string: `1000/minute`, `20/second;1000/minute`; empty: "
        "no limit); a key's own `rate_limit_per_minute` replaces it.",
    )
    rate_limit_tenant: str = Field(
        "1000/minute", description="Requests all API keys of one tenant may make together (empty: no limit)."
    )
    rate_limit_refused_key: str = Field(
        "60/minute",
        description="Requests with a missing, unknown or revoked API key one client address may make before 429 "
        "replaces 401.",
    )
    rate_limit_sign_in_account: str = Field(
        "10/minute;100/hour", description="Sign-in attempts to one account (workspace and email) of the web UI."
    )
    rate_limit_sign_in_address: str = Field(
        "10/minute;100/hour", description="Sign-in attempts to the web UI from one client address."
    )
    rate_limit_tracking: str = Field(
        "600/minute",
        description="Open pixel, click and unsubscribe requests from one client address that are counted; past it "
        "opens and clicks are not recorded.",
    )
    throttle_tenant_per_second: int = Field(
        0,
        ge=0,
        description="Messages a second one tenant's campaigns may send, all processes together (0: no limit); "
        "`emailplatform tenants throttle` sets a tenant's own.",
    )
    throttle_tenant_per_day: int = Field(
        0,
        ge=0,
        description="Messages a UTC day one tenant may send (0: no limit); past it messages wait for the next day.",
    )
    throttle_domains: dict[str, DomainThrottle] = Field(
        {},
        description="Limits per recipient domain, beside or instead of the built-in ones for the large providers "
        '(JSON: `{"gmail.com": {"connections": 20, "per_minute": 3000}}`; zeros: no limit).',
    )
    throttle_max_wait_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description="How long a throttled message waits in its worker for its turn; a longer wait puts it back in the "
        "queue until then.",
    )
    pause_bounce_rate: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Bounced share of a campaign's sent messages that pauses it (AWS SES reviews an account at 5%).",
    )
    pause_complaint_rate: float = Field(
        0.003,
        gt=0,
        le=1,
        description="Complained share of a campaign's sent messages that pauses it (Gmail and Yahoo: never reach "
        "0.3%).",
    )
    pause_min_sent: int = Field(
        100,
        ge=1,
        description="Messages a campaign sends (since it was last resumed) before its bounce and complaint rates can "
        "pause it.",
    )
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool = Field(False, description="Log as JSON lines instead of readable text.")
    access_log: bool = Field(
        True,
        description="Log one line an HTTP request: method, route template, status, duration and request id.",
    )

    @field_validator(
        "rate_limit_api_key",
        "rate_limit_tenant",
        "rate_limit_refused_key",
        "rate_limit_sign_in_account",
        "rate_limit_sign_in_address",
        "rate_limit_tracking",
    )
    @classmethod
    def _a_limits_string(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # raises ValueError naming the string
        return value.strip()

    @field_validator("tls_trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # raises ValueError naming it
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_algorithms(cls, value: list[str]) -> list[str]:
        refused = [alg for alg in value if alg.lower() == "none" or alg.upper().startswith("HS")]
        if refused:
            raise ValueError(f"tokens are verified with the issuer's public keys only, never {refused}")
        return value

    @model_validator(mode="after")
    def _an_issuer_has_an_audience(self) -> "Settings":
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("oidc_audience is required with oidc_issuer: a token must be meant for this API")
        return self

    @model_validator(mode="after")
    def _a_replica_is_of_postgresql(self) -> "Settings":
        if self.read_database_url and not (
            _is_postgresql(self.database_url) and _is_postgresql(self.read_database_url)
        ):
            raise ValueError("read_database_url is a PostgreSQL replica of a PostgreSQL database_url")
        return self

    @property
    def resolved_database_url(self) -> str:
        return _with_driver(self.database_url or f"sqlite:///{(self.data_dir / 'emailplatform.db').resolve()}")

    @property
    def resolved_read_database_url(self) -> str:
        """The replica's URL, or "" when reads go to the primary."""
        return _with_driver(self.read_database_url) if self.read_database_url else ""

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def _is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql", "postgres://"))


def _with_driver(url: str) -> str:
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
