"""Configuration from the environment; every service reads the same names."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DB_SERVICES = ("intake", "escalation", "notify", "archive")  # the console has no database


@dataclass(frozen=True)
class ServiceDatabase:
    """A service's PostgreSQL login: `url` to connect with, `role` whose rights it has."""

    service: str
    url: str
    role: str
    password: str | None  # from the service's own URL; `antibully migrate` sets it on the role


def url_credentials(url: str) -> tuple[str | None, str | None]:
    """The user and password a libpq-style URL names (in its authority or its query), unquoted."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    user = parts.username or next(iter(query.get("user", [])), None)
    password = parts.password or next(iter(query.get("password", [])), None)
    return (unquote(user) if user else None), (unquote(password) if password else None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    nats_url: str = "nats://127.0.0.1:4222"
    nats_replicas: int = Field(default=1, description="3 in a cluster; 1 for a single dev server.")
    # NATS users (docs/security.md): each service signs in with its own nkey seed and reads only its own
    # (intake's workers use intake's); the admin seed is for `antibully nats-setup` and the operator's CLI.
    intake_nats_seed: str = Field(default="", description="intake's NATS nkey user seed (SU…).")
    escalation_nats_seed: str = Field(default="", description="escalation's NATS nkey user seed (SU…).")
    notify_nats_seed: str = Field(default="", description="notify's NATS nkey user seed (SU…).")
    archive_nats_seed: str = Field(default="", description="archive's NATS nkey user seed (SU…).")
    nats_admin_seed: str = Field(default="", description="The NATS admin's nkey seed: streams and consumers "
                                 "(`antibully nats-setup`), dead letters. Never given to a service.")
    nats_tls_ca: str = Field(default="", description="CA certificate file (PEM): when set, NATS is reached over "
                             "TLS and the server's certificate is verified against it. Empty: plain (loopback).")
    database_url: str = Field(default="postgresql://postgres@127.0.0.1:5432/postgres", description="The "
                              "admin's login: `antibully migrate` and the admin commands (schools, officials, "
                              "verify). A service uses it only when its own URL below is empty.")
    # least privilege (issue 14): each service logs in as its own role (docs/security.md)
    intake_database_url: str = Field(default="", description="intake's login (role antibully_intake, or the URL's "
                                     "user). Empty: DATABASE_URL, acting as that role.")
    escalation_database_url: str = Field(default="", description="escalation's login; see intake_database_url.")
    notify_database_url: str = Field(default="", description="notify's login; see intake_database_url.")
    archive_database_url: str = Field(default="", description="archive's login; see intake_database_url.")
    db_owner_role: str = Field(default="antibully_owner", description="The role owning the services' schemas and "
                               "tables (created NOLOGIN by `antibully migrate` unless DATABASE_URL logs in as it).")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_from: str = "antibully@localhost"
    smtp_timeout_s: float = 10.0
    smtp_security: str = Field(default="none", description="none (as the relay offers; a loopback relay), "
                               "starttls (required: refuse to send when not offered) or tls (implicit, port 465).")
    smtp_username: str = Field(default="", description="SMTP AUTH user; needs SMTP_SECURITY starttls or tls.")
    smtp_password: str = Field(default="", description="SMTP AUTH password.")
    smtp_tls_ca_file: str = Field(default="", description="CA bundle that signs the relay's certificate "
                                  "(empty: the system's).")

    intake_host: str = "127.0.0.1"
    intake_port: int = 8080
    notify_host: str = "127.0.0.1"
    notify_port: int = 8082
    public_base_url: str = Field(default="http://127.0.0.1:8082",
                                 description="Where readers open acknowledgement links (notify's HTTP edge).")
    link_key: str = Field(default="", description="Base64 of ≥32 bytes; signs acknowledgement links. A ring: "
                          "`new,old` while rotating (the first signs, each verifies; docs/security.md).")
    link_ttl_s: int = Field(default=7 * 24 * 3600, description="How long an acknowledgement link stays valid.")
    escalation_host: str = "127.0.0.1"
    escalation_port: int = Field(default=8083, description="escalation's /healthz and /readyz; 0: none.")
    archive_host: str = "127.0.0.1"
    archive_port: int = 8081
    max_body_bytes: int = 256 * 1024
    publish_timeout_s: float = 2.0
    retry_after_s: int = 5
    rate_limit_per_s: float = Field(default=20.0, description="Sustained requests per second per API key.")
    rate_limit_burst: int = 200
    # intake workers (issue 12)
    intake_workers: int = Field(default=1, ge=1, le=64, description="intake processes sharing intake_port "
                                "(SO_REUSEPORT; the kernel spreads connections). Each is a full intake with its own "
                                "NATS connection and a pool of max(3, ceil(db_pool_size / intake_workers)).")
    access_code_rate_per_s: float = Field(default=0.5, description="Help requests per second per access code.")
    access_code_burst: int = 20
    help_per_address_rate_per_s: float = Field(default=0.1, description="Help requests per second per client "
                                               "address and access code: one sender gets a share of the code's "
                                               "rate, never all of it (issue 14).")
    help_per_address_burst: int = Field(default=10, ge=1, description="Burst of help_per_address_rate_per_s.")

    poison_attempts: int = Field(default=5, ge=1, description="Failures of a permanent kind (a refused payload, a "
                                 "handler failing while its dependencies are healthy) before a message is "
                                 "dead-lettered. Transient failures never count (docs/reliability.md).")
    ack_wait_s: float = Field(default=30.0, description="Redelivery after a consumer died holding a message; "
                              "a live consumer heartbeats every third of it.")
    graceful_timeout_s: float = Field(default=20.0, description="On SIGTERM, how long messages being handled get "
                                      "to finish before the process exits.")
    dead_letter_key: str = Field(default="", description="Base64 of 32 bytes; seals dead letters' payloads. Empty: "
                                 "a dead letter is a reference to its original message.")
    db_pool_size: int = Field(default=10, ge=3, description="Connections per service process.")
    db_acquire_timeout_s: float = Field(default=10.0, description="Longest wait for a pooled connection.")
    db_command_timeout_s: float = Field(default=30.0, description="Longest a single statement may run.")
    directory_file: Path = ROOT / "deploy" / "directory.toml"
    policy_file: Path = ROOT / "deploy" / "policy" / "default.toml"
    campaigns_dir: Path = Field(default=ROOT / "deploy" / "campaigns", description="The campaign files "
                                "(`<id>.toml`, shared/campaign_plan.py) the bureau may start.")
    watchdog_interval_s: float = Field(default=5.0, description="How often escalation looks for missed deadlines.")
    archive_data_key: str = Field(default="", description="Base64 of 32 bytes; AES-GCM key for personal data at rest.")
    archive_kek: str = Field(default="", description="Base64 of 32 bytes; key-encryption key wrapping each case's data"
                             " key (AES-GCM). Empty: ARCHIVE_DATA_KEY serves as the KEK. A ring: `new,old` while "
                             "`antibully rotate archive-kek` rewraps (the first wraps, each unwraps).")
    archive_retention_days: int = Field(default=3650, description="Days after a case's last entry before its data key"
                                        " is destroyed (placeholder: the bureau sets the period).")
    archive_shred_interval_s: float = Field(default=3600.0, description="How often archive destroys expired data keys.")
    archive_signing_key: str = Field(default="", description="Base64 of the 32-byte Ed25519 seed signing chain"
                                     " checkpoints. Empty: no checkpoints are written.")
    archive_checkpoint_interval_s: float = Field(default=300.0, description="How often archive signs the chain heads.")
    intake_data_key: str = Field(default="", description="Base64 of 32 bytes; seals help-request messages in intake.")
    pseudonym_key: str = Field(default="", description="Base64 of ≥32 bytes; keys students' pseudonyms in escalation.")
    escalation_data_key: str = Field(default="", description="Base64 of 32 bytes; seals, in escalation, the families "
                                     "of an open case (child's name, guardians' contacts) so they can be kept "
                                     "informed. Empty: no family updates.")
    # children's data sealed at the producer (issue 14): a sealed box per reader (shared/bus_seal.py)
    archive_bus_private_key: str = Field(default="", description="Base64 of the archive's raw X25519 private key: "
                                         "opens the personal sections of events (archive only).")
    notify_bus_private_key: str = Field(default="", description="Base64 of notify's raw X25519 private key: opens "
                                        "the family's sealed contact in a notice (notify only).")
    archive_bus_public_key: str = Field(default="", description="Base64 of the archive's raw X25519 public key "
                                        "(`antibully bus-keys` makes a pair): producers seal with it.")
    notify_bus_public_key: str = Field(default="", description="Base64 of notify's raw X25519 public key: intake "
                                       "seals each guardian's contact for notify with it.")
    archive_token_ttl_s: int = Field(default=15 * 60, ge=1, description="How long an official's "
                                     "bearer token lasts unused: each use extends it by this much.")
    archive_login_max_failures: int = Field(default=5, ge=1, description="Failed logins in a row before a lock.")
    archive_login_lock_s: int = Field(default=15 * 60, ge=1, description="How long a login name stays locked.")
    # signed identity assertions (issue 13): the archive vouches for an official, intake checks it
    identity_signing_key: str = Field(default="", description="Base64 of the 32-byte Ed25519 seed signing "
                                      "identity assertions (archive only). Empty: POST /v1/auth/assertion answers 503.")
    identity_public_key: str = Field(default="", description="Base64 of the raw 32-byte public key of "
                                     "IDENTITY_SIGNING_KEY (intake). Empty: intake accepts only schools' API keys. "
                                     "A ring: `new,old` while the archive's key is rotated.")
    antibully_dev_mode: bool = Field(default=False, description="Start even with a development key committed to "
                                     "the repository, or an all-zero or short one (a throw-away local system only).")
    metrics_host: str = Field(default="127.0.0.1", description="Where every service's /metrics port listens: "
                              "loopback or an internal network, never the public edge (issue 14).")
    intake_metrics_port: int = Field(default=0, description="intake's /metrics (worker i: this + i); 0: none.")
    archive_metrics_port: int = Field(default=0, description="archive's /metrics; 0: none.")
    notify_metrics_port: int = Field(default=0, description="notify's /metrics; 0: none.")
    escalation_metrics_port: int = Field(default=0, description="escalation's /metrics; 0: none.")
    console_metrics_port: int = Field(default=0, description="the console's /metrics; 0: none.")
    notify_data_key: str = Field(default="", description="Base64 of 32 bytes; seals the notice a link's page shows.")
    receipt_token: str = Field(default="", description="Secret path segment of the SMS providers' receipt URLs.")
    reachability_interval_s: float = Field(default=3600.0, description="How often notify checks the directory.")

    # notify's channels (issue 5). A provider is used only when its credentials are set.
    channel_timeout_s: float = Field(default=10.0, description="HTTP timeout for SMS providers, robots and webhooks.")
    channel_max_wait_s: float = Field(default=10.0, description="Longest in-process wait for a rate limit; "
                                      "beyond it the send is handed back as transient (redelivered later).")
    sms_providers: str = Field(default="aliyun,tencent", description="SMS providers in order of preference.")
    sms_rate_per_s: float = Field(default=20.0, description="Sustained SendSms calls per second per provider.")
    aliyun_sms_endpoint: str = Field(default="https://dysmsapi.aliyuncs.com/", description="Aliyun SMS RPC endpoint.")
    aliyun_sms_region: str = Field(default="cn-hangzhou", description="RegionId sent with Aliyun SendSms.")
    aliyun_access_key_id: str = Field(default="", description="Aliyun AccessKeyId (a RAM user limited to SMS).")
    aliyun_access_key_secret: str = Field(default="", description="Aliyun AccessKeySecret; signs each request.")
    aliyun_sms_sign_name: str = Field(default="", description="Approved SMS signature name (签名) at Aliyun.")
    aliyun_sms_template: str = Field(default="", description="Aliyun TemplateCode (SMS_…) of the notice template.")
    tencent_sms_endpoint: str = Field(default="https://sms.tencentcloudapi.com/",
                                      description="Tencent Cloud SMS API 3.0 endpoint.")
    tencent_sms_region: str = Field(default="ap-guangzhou", description="X-TC-Region sent with Tencent SendSms.")
    tencent_secret_id: str = Field(default="", description="Tencent Cloud SecretId (a sub-user limited to SMS).")
    tencent_secret_key: str = Field(default="", description="Tencent Cloud SecretKey; signs each request (TC3).")
    tencent_sms_app_id: str = Field(default="", description="Tencent SmsSdkAppId.")
    tencent_sms_sign_name: str = Field(default="", description="Approved SMS signature name (签名) at Tencent.")
    tencent_sms_template_id: str = Field(default="", description="Tencent TemplateId of the notice template; "
                                         "its parameters are positional, in the order notify gives them.")
    wecom_webhook_base: str = Field(default="https://qyapi.weixin.qq.com",
                                    description="WeCom robot API base; empty disables WeCom.")
    dingtalk_webhook_base: str = Field(default="https://oapi.dingtalk.com",
                                       description="DingTalk robot API base; empty disables DingTalk.")
    dingtalk_secret: str = Field(default="", description="Default DingTalk robot signing secret (SEC…), for "
                                 "addresses that do not carry their own as 'token:secret'.")
    robot_per_minute: int = Field(default=20, description="Messages per minute per WeCom/DingTalk robot.")
    webhook_secret: str = Field(default="", description="Signs outgoing webhooks (HMAC-SHA256); empty disables them.")
    # letters (issue 12)
    roster_max_bytes: int = Field(default=2 * 1024 * 1024, description="Largest roster upload (PUT /v1/rosters): "
                                  "20,000 rows of a CSV or XLSX sheet.")
    letter_contact_key: str = Field(default="", description="Seals parents' contacts in letter batches from intake "
                                    "to notify (base64 of 32 bytes; intake and notify only). Unset: no letters.")
    letter_batches_in_flight: int = Field(default=4, ge=1, le=32, description="Letter batches (≤ 500 parents "
                                          "each) one notify replica sends at once; a crash leaves at most these "
                                          "with an unknown outcome.")
    letter_sends_in_flight: int = Field(default=8, ge=1, le=64, description="Provider calls for letters one notify "
                                        "replica has in flight at once (across batches): at most this many letter "
                                        "sends are ever ahead of a notice in a provider's rate bucket.")

    # lanes (issue 12): one consumer per priority lane, provider limits shared across notify replicas
    notify_urgent_concurrency: int = Field(default=4, ge=1, description="Urgent notices handled at once per "
                                           "notify process, on their own connection pool.")
    notify_urgent_pool_size: int = Field(default=3, ge=1, description="Connections kept for the urgent lane alone, "
                                         "so bulk and standard notices never hold the one an urgent one needs.")
    notify_standard_concurrency: int = Field(default=4, ge=1, description="Standard notices handled at once.")
    notify_bulk_concurrency: int = Field(default=2, ge=1, description="Bulk notices (letters) handled at once.")
    notify_lower_while_urgent: int = Field(default=1, ge=0, description="Standard and bulk handlers started at once "
                                           "while urgent notices are being handled (0: strict priority).")
    robot_window_s: float = Field(default=60.0, gt=0, description="The window of robot_per_minute (60 s; shorter "
                                  "only in tests).")
    robot_digest_interval_s: float = Field(default=1.0, gt=0, description="How often notify looks for robots whose "
                                           "waiting notices can go out as one digest message.")
    rate_urgent_reserve: float = Field(default=0.25, ge=0, lt=1, description="Share of each provider's burst "
                                       "(robot, SMS) that standard and bulk notices leave for urgent ones.")
    rate_inline_wait_s: float = Field(default=0.25, ge=0, description="Longest wait for a shared rate-limit token "
                                      "while holding a lane slot; beyond it the notice is parked or handed back.")
    sms_per_number_limit: int = Field(default=0, ge=0, description="SMS per phone number per provider within "
                                      "sms_per_number_window_s, shared across replicas (0: only the carrier's own "
                                      "refusal, which waits or falls over).")
    sms_per_number_window_s: float = Field(default=60.0, gt=0, description="Window of sms_per_number_limit.")
    # channel throughput (issue 12): the SMTP pool, and how many sends of a kind one replica keeps
    # in flight (each is one delivery row under lease; see docs/notify.md "Sends in flight").
    smtp_pool_size: int = Field(default=4, ge=1, description="SMTP connections per notify replica.")
    smtp_max_messages_per_connection: int = Field(default=100, ge=1, description="Messages over one SMTP "
                                                  "connection before it is closed and a new one made.")
    smtp_idle_s: float = Field(default=30.0, description="An SMTP connection unused this long is closed.")
    smtp_noop_after_s: float = Field(default=2.0, description="A pooled SMTP connection idle this long is checked "
                                     "with NOOP before use (and replaced if the server has dropped it).")
    smtp_batch_max: int = Field(default=20, ge=1, description="Messages per SmtpChannel.send_batch call (one "
                                "connection): the most a crash can leave sent but unrecorded per batch.")
    email_concurrency: int = Field(default=4, ge=1, description="E-mail sends in flight per notify replica; "
                                   "above smtp_pool_size they only wait for a connection.")
    sms_concurrency: int = Field(default=8, ge=1, description="SMS sends (API calls) in flight per notify "
                                 "replica; ~ provider rate × latency, with room.")


    # the console (issue 13): officials', school staff's and families' web pages
    console_host: str = "127.0.0.1"
    console_port: int = Field(default=8088, description="The console's HTTP port.")
    console_session_key: str = Field(default="", description="Base64 of 32 bytes; seals the console's session "
                                     "cookies. Empty: a random key per process (sessions end at a restart).")
    console_dev_mode: bool = Field(default=False, description="Cookies without the Secure flag, for plain-HTTP "
                                   "loopback (make run, tests). Never in production.")
    console_idle_timeout_s: int = Field(default=15 * 60, ge=1, description="A console session idle this long ends.")
    console_archive_url: str = Field(default="", description="The archive's API as the console reaches it; empty: "
                                     "http://archive_host:archive_port.")
    console_intake_url: str = Field(default="", description="Intake's API as the console reaches it; empty: "
                                    "http://intake_host:intake_port.")
    console_public_url: str = Field(default="", description="The console's address as officials and schools open "
                                    "it (e.g. https://antibully.edu.example.cn): their notices link to the case's "
                                    "page there. Empty: notices say to look the case up by its reference.")
    console_login_per_minute: int = Field(default=10, ge=1, description="Login attempts per minute per client "
                                          "address (the archive also locks a name after repeated failures).")

    # the security review's smaller findings (issue 14)
    archive_login_per_address: int = Field(default=30, ge=0, description="Login attempts (right or wrong) per "
                                           "client address within archive_login_address_window_s (0: no limit).")
    archive_login_address_window_s: int = Field(default=300, ge=1, description="Window of the per-address limit.")
    archive_login_verifications: int = Field(default=4, ge=1, description="Password verifications (argon2id, "
                                             "64 MiB each) one archive process runs at once; more wait briefly.")
    archive_login_busy_wait_s: float = Field(default=1.0, ge=0, description="Longest wait for a verification "
                                             "slot before a login is answered 503 with Retry-After.")

    def service_database(self, service: str) -> ServiceDatabase:
        """Where `service` logs in and which role it is: its own URL's user, else `antibully_<service>`
        (then it logs in with DATABASE_URL and acts as that role)."""
        own = str(getattr(self, f"{service}_database_url"))
        user, password = url_credentials(own) if own else (None, None)
        return ServiceDatabase(service, own or self.database_url, user or f"antibully_{service}", password)

    @property
    def handler_concurrency(self) -> int:
        """Handlers of one service process running at once: the pool less two connections kept for the
        outbox relay and the HTTP edge or background loops, so consumers can never starve them."""
        return self.db_pool_size - 2


@lru_cache
def get_settings() -> Settings:
    return Settings()
