"""Settings read once from the environment (set per stage in .chalice/config.json)."""
import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Settings(BaseModel):
    """One field per environment variable (TABLE_NAME -> table_name).

    A plain model rather than pydantic-settings: that package costs ~75 ms of every Lambda's cold
    start (asyncio, argparse, dotenv) for a job os.environ does.
    """
    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: str = "dev"
    table_name: str = Field(min_length=3)
    kms_key_id: str = Field(min_length=1)
    operations_queue_name: str = Field(default="fleetline-operations.fifo", pattern=r"\.fifo$")
    # The bulk operations' background rounds (chalicelib/bulk/worker.py): FIFO, one message group per bulk operation.
    bulk_queue_name: str = Field(default="fleetline-bulk.fifo", pattern=r"\.fifo$")
    aws_endpoint_url: str | None = None
    # The Secrets Manager secret keying token hashes, cursor signatures and idempotency hashes (signing.py).
    signing_key_id: str = Field(default="fleetline-dev/signing-key", min_length=1, max_length=512)
    # A revoked token stays usable in a warm Lambda for at most this long (API.md §9: 60 s).
    token_cache_seconds: int = Field(default=60, ge=0, le=60)
    default_rate_limit_per_minute: int = Field(default=100, ge=1)
    # How the agent reaches devices: the built-in simulator, or a GenieACS-style northbound API.
    device_driver: Literal["simulated", "genieacs"] = "simulated"
    genieacs_url: str | None = None
    # Seconds a driver may take for one device call (an operation or a status probe).
    driver_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Days raw telemetry (connection events, app sessions, usage records) is kept before its TTL expires it.
    telemetry_retention_days: int = Field(default=400, ge=91, le=3650)
    # The rollups read the audit trail (a GSI, eventually consistent) up to this long ago (make run sets it low).
    rollup_settle_seconds: int = Field(default=60, ge=0, le=3600)
    # The rollups' FIFO queue (one message group per lane) and the number of lanes: device d is aggregated by lane
    # d % rollup_lanes, fixed for a deployment (docs/rollups.md).
    rollup_queue_name: str = Field(default="fleetline-rollups.fifo", pattern=r"\.fifo$")
    rollup_lanes: int = Field(default=4, ge=1, le=90)

    @model_validator(mode="after")
    def _driver_has_an_address(self):
        if self.device_driver == "genieacs" and not self.genieacs_url:
            raise ValueError("DEVICE_DRIVER=genieacs needs GENIEACS_URL")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Validated settings; fails fast naming the missing variable."""
    return Settings(**{name.lower(): value for name, value in os.environ.items()
                       if name.lower() in Settings.model_fields})
