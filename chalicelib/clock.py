"""The one source of the current time, and the API's timestamp format."""
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix (API.md §1)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sleep(seconds: float) -> None:
    """Wait (the background's pacing between slices); tests make it advance a controllable clock instead."""
    import time
    time.sleep(max(0.0, seconds))
