"""Settings read once from the environment (set per stage in .chalice/config.json)."""
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    stage: str = "dev"
    table_name: str = Field(min_length=3)
    kms_key_id: str = Field(min_length=1)
    operations_queue_name: str = "fleetline-operations"
    aws_endpoint_url: str | None = None
    # A revoked token stays usable in a warm Lambda for at most this long (API.md §9: 60 s).
    token_cache_seconds: int = Field(default=60, ge=0, le=60)
    default_rate_limit_per_minute: int = Field(default=100, ge=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Validated settings; fails fast naming the missing variable."""
    return Settings()
