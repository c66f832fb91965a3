"""Settings in one place, read from the environment with the CHEFOSKOP_ prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    """All runtime configuration of chefoskop."""

    model_config = SettingsConfigDict(env_prefix="CHEFOSKOP_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str | None = None
    # While the database is unreachable or busy requests answer 503 with this Retry-After.
    db_retry_after_seconds: int = Field(default=2, ge=1, le=3600)
    # PostgreSQL: how long to wait for a new connection, and for a free one from the pool.
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # Web requests queue for a database session (as many at once as the pool has connections);
    # one that has waited this long answers 503 with Retry-After instead.
    db_queue_timeout_seconds: float = Field(default=30.0, gt=0)
    # SQLite: how long a writer waits for another's lock before the request gives up (503).
    sqlite_busy_timeout_seconds: float = Field(default=30.0, ge=0)
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    base_url: str = "http://127.0.0.1:8000"
    default_locale: Literal["sv", "en"] = "sv"
    timezone: str = "Europe/Stockholm"

    # Flows: "embedded" runs step flows in-process through Prefect (or through the
    # server named by PREFECT_API_URL); "deployment" creates runs of the deployments
    # in prefect.yaml; "direct" calls the same step logic without Prefect.
    flow_mode: Literal["embedded", "deployment", "direct"] = "embedded"

    # Mail. With no smtp_host the embedded sink on 127.0.0.1 is used.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "Chefoskop <noreply@chefoskop.local>"
    sink_port: int = 8025
    send_max_attempts: int = Field(default=6, ge=1)
    send_backoff_seconds: float = Field(default=30.0, ge=0)
    send_batch_size: int = Field(default=200, ge=1)

    # Reminders and escalation (working days).
    remind_before_due_days: int = Field(default=2, ge=0)
    overdue_reminder_every_days: int = Field(default=2, ge=1)
    escalate_after_overdue_days: int = Field(default=3, ge=1)

    link_max_age_days: int = Field(default=30, ge=1)
    anonymity_threshold: int = Field(default=5, ge=5)

    # Web sign-in and the API (api/).
    session_max_age_hours: int = Field(default=12, ge=1, le=24 * 30)
    login_max_failures: int = Field(default=5, ge=1)  # per account and address in the window
    login_max_failures_per_account: int = Field(default=20, ge=1)  # from any address
    login_window_minutes: int = Field(default=15, ge=1)
    upload_max_bytes: int = Field(default=2_000_000, ge=1024)
    idempotency_hours: int = Field(default=24, ge=1)

    # Optional single sign-on with OpenID Connect; the routes exist only when
    # issuer, client id and client secret are all set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    oidc_organisation: str | None = None  # slug of the organisation OIDC users belong to
    # Sign in only on an e-mail the provider marks verified (email_verified: true). Turn off only
    # for a provider that never sends the claim and vouches for its addresses itself (e.g. a
    # Microsoft Entra ID tenant of the organisation's own).
    oidc_require_verified_email: bool = True

    @property
    def oidc_enabled(self) -> bool:
        """Whether OpenID Connect sign-in is configured."""
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == DEFAULT_SECRET:
            raise ValueError("CHEFOSKOP_SECRET_KEY must be set outside development")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chefoskop.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` in tests)."""
    return Settings()
