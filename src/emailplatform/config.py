"""Every setting, with its description and default. The README's settings table is generated from here."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMAILPLATFORM_", extra="ignore")

    data_dir: Path = Field(
        Path("emailplatform-data"),
        description="Where the embedded default keeps its SQLite database, stored files and secret key.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy or plain URL of the database (`postgresql://user:pass@host/db`); empty: SQLite in the data dir.",
    )
    db_pool_size: int = Field(10, ge=1, le=1000, description="Database connections each process keeps open in its pool.")
    db_max_overflow: int = Field(
        20, ge=0, le=1000, description="Connections a process may open beyond the pool when it is busy, closed again after use."
    )
    db_pool_timeout_seconds: float = Field(
        3.0, gt=0, le=300,
        description="How long a request waits for a free connection of a full pool before it answers 503 with Retry-After.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The base URL clients reach the API at; presigned upload URLs of the local storage start with it.",
    )
    secret_key: str = Field(
        "",
        description="Key that signs upload URLs and tokens; empty: generated once and kept in the data dir.",
    )
    storage_backend: Literal["local", "s3"] = Field(
        "local", description="Where files live: `local` (the data dir) or `s3`."
    )
    s3_bucket: str = Field("emailplatform", description="S3 bucket for files (storage backend `s3`).")
    s3_endpoint_url: str = Field("", description="S3 endpoint for S3-compatible servers; empty: AWS.")
    s3_region: str = Field("us-east-1", description="Region of the S3 bucket (credentials come from the usual AWS settings).")
    transport: Literal["capture", "smtp", "ses"] = Field(
        "capture",
        description="How email leaves: `capture` (kept in storage, listed by the outbox), `smtp` or `ses` (Amazon SES v2).",
    )
    smtp_url: str = Field(
        "smtp://127.0.0.1:25",
        description="`smtp://user:pass@host:port` (STARTTLS when offered; `?starttls=require` to insist) or `smtps://` (implicit TLS).",
    )
    smtp_verify_tls: bool = Field(True, description="Verify the SMTP server's TLS certificate.")
    smtp_ca_file: str = Field("", description="A PEM file of CA certificates to trust for SMTP TLS, beside the system's.")
    smtp_connections: int = Field(10, ge=1, le=200, description="SMTP connections kept open per worker process.")
    smtp_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one SMTP command.")
    ses_region: str = Field("us-east-1", description="AWS region of SES (credentials come from the usual AWS settings).")
    ses_configuration_set: str = Field("", description="SES configuration set that publishes events to our SNS endpoint.")
    ses_endpoint_url: str = Field("", description="SES endpoint for SES-compatible servers; empty: AWS.")
    sns_cert_host_pattern: str = Field(
        r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$",
        description="Hosts SNS signing certificates and subscription confirmations may come from (a regular expression).",
    )
    sns_topic_arns: list[str] = Field(
        default_factory=list,
        description="The SNS topics (ARNs, JSON list) the SES events endpoint accepts messages of; empty: any topic, with a warning logged.",
    )
    bounce_domain: str = Field(
        "", description="Domain of the VERP return path (`bounces+<id>@domain`); its MX must reach the inbound listener. Empty: the sender's domain."
    )
    inbound_host: str = Field("127.0.0.1", description="Address the inbound SMTP listener (bounces) binds to.")
    inbound_port: int = Field(2525, ge=1, le=65535, description="Port of the inbound SMTP listener.")
    tracking_url: str = Field("", description="Base URL of open, click and unsubscribe links; empty: the public URL.")
    allow_unverified_domains: bool | None = Field(
        None,
        description="Send from domains that are not registered and verified. Empty: allowed on the embedded SQLite deployment only.",
    )
    dns_nameservers: list[str] = Field(
        default_factory=list,
        description="DNS servers (`host`, `host:port` or `[v6]:port`) that sending-domain verification asks (JSON list); empty: the system's resolvers.",
    )
    spf_include: str = Field(
        "",
        description="The domain sending domains include in their SPF record. Empty: `amazonses.com` with the SES transport, else the bounce domain, else the public URL's host.",
    )
    upload_max_bytes: int = Field(100 * 1024 * 1024, gt=0, description="Largest file a presigned upload accepts.")
    http_header_timeout_seconds: float = Field(
        10.0, gt=0, description="How long `serve` waits for a request's headers before it closes the connection (slow clients).",
    )
    http_keep_alive_seconds: int = Field(5, ge=1, description="How long `serve` keeps an idle connection open for its next request.")
    request_max_bytes: int = Field(
        8 * 1024 * 1024, ge=64 * 1024,
        description="Largest request body of every route but presigned uploads (the largest template fits); past it a 413, the rest never read.",
    )
    upload_url_ttl_seconds: int = Field(3600, gt=0, description="How long a presigned upload URL stays valid.")
    default_batch_size: int = Field(500, ge=1, le=5000, description="Rows per batch when a campaign names none.")
    api_workers: int = Field(
        0, ge=0, le=256,
        description="API processes that `serve` runs (0: one); with more, `/readyz` no longer sees the worker processes.",
    )
    worker_processes: int = Field(
        0, ge=0, le=256,
        description="Worker processes that `serve` and `worker` run, each restarted if it dies; 0: one per core.",
    )
    worker_concurrency: int = Field(4, ge=1, le=64, description="Jobs one worker process runs at once.")
    job_lease_seconds: int = Field(60, ge=1, description="How long a claimed job is leased before another worker may take it.")
    job_max_attempts: int = Field(8, ge=1, description="Attempts before a failing job is dead.")
    job_retry_base_seconds: float = Field(5.0, gt=0, description="Delay before a failed job's second attempt; doubles each time, up to an hour.")
    send_max_attempts: int = Field(6, ge=1, description="Attempts (SMTP 4xx answers) before a message fails.")
    send_retry_base_seconds: float = Field(60.0, gt=0, description="First delay before a temporarily refused message is retried; doubles each time.")
    outcome_window_hours: float = Field(
        72.0, gt=0,
        description="How long a sent message waits for an outcome (delivery notice, bounce, complaint); after it, SENT is final and its batch and campaign can complete.",
    )
    render_timeout_ms: int = Field(200, ge=1, description="Longest one template render may take.")
    render_max_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest output of one template render.")
    idempotency_ttl_hours: int = Field(48, ge=24, description="How long an Idempotency-Key is remembered.")
    retention_files_days: float = Field(
        30, ge=0, description="Days a finished campaign keeps its source recipients file and its batch files (the recipients' placeholder data); 0: for ever.",
    )
    retention_captured_days: float = Field(
        30, ge=0, description="Days the capture transport's .eml files of a finished campaign are kept; 0: for ever.",
    )
    retention_events_days: float = Field(
        0, ge=0, description="Days a finished campaign keeps its messages' events (opens, clicks, bounces, …); 0: for ever.",
    )
    retention_webhook_logs_days: float = Field(
        30, ge=0, description="Days finished webhook deliveries and their attempts (request and response logs) are kept; 0: for ever.",
    )
    retention_audit_days: float = Field(365, ge=0, description="Days audit log entries are kept; 0: for ever.")
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Webhook hosts allowed even though they resolve to private or loopback addresses (JSON list).",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one webhook delivery.")
    webhook_endpoint_concurrency: int = Field(8, ge=1, description="Deliveries in flight to one webhook endpoint at once.")
    webhook_concurrency: int = Field(
        128, ge=1, le=1000,
        description="Webhook deliveries one worker process has in flight at once, beside its `worker_concurrency` other jobs.",
    )
    metrics_token: str = Field(
        "", description="Bearer token that `/metrics` asks for; empty: `/metrics` is open (keep it off the public network).",
    )
    redis_url: str = Field(
        "", description="Redis (`redis://host:6379/0`) that keeps the rate limits' counters, shared by every process; empty: each process counts in its own memory.",
    )
    redis_key_prefix: str = Field("emailplatform", description="Prefix of the rate limits' keys in Redis, so deployments can share one Redis.")
    api_key_cache_seconds: float = Field(
        5.0, ge=0, le=300,
        description="How long a process trusts an API key it verified without reading it again (0: every request reads it); a key revoked elsewhere works at most this long in other processes.",
    )
    rate_limit_api_key: str = Field(
        "1000/minute",
        description="Requests one API key may make (a `limits` string: `1000/minute`, `20/second;1000/minute`; empty: no limit); a key's own `rate_limit_per_minute` replaces it.",
    )
    rate_limit_tenant: str = Field("1000/minute", description="Requests all API keys of one tenant may make together (empty: no limit).")
    rate_limit_refused_key: str = Field(
        "60/minute", description="Requests with a missing, unknown or revoked API key one client address may make before 429 replaces 401.",
    )
    rate_limit_sign_in_account: str = Field("10/minute;100/hour", description="Sign-in attempts to one account (workspace and email) of the web UI.")
    rate_limit_sign_in_address: str = Field("10/minute;100/hour", description="Sign-in attempts to the web UI from one client address.")
    rate_limit_tracking: str = Field(
        "600/minute", description="Open pixel, click and unsubscribe requests from one client address that are counted; past it opens and clicks are not recorded.",
    )
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool = Field(False, description="Log as JSON lines instead of readable text.")
    access_log: bool = Field(
        True, description="Log one line an HTTP request: method, route template, status, duration and request id.",
    )

    @field_validator(
        "rate_limit_api_key", "rate_limit_tenant", "rate_limit_refused_key", "rate_limit_sign_in_account",
        "rate_limit_sign_in_address", "rate_limit_tracking",
    )
    @classmethod
    def _a_limits_string(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # raises ValueError naming the string
        return value.strip()

    @property
    def resolved_database_url(self) -> str:
        url = self.database_url or f"sqlite:///{(self.data_dir / 'emailplatform.db').resolve()}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain):]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
