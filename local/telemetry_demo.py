"""A week of telemetry for make run's demo fleet: connection sessions, app sessions and usage records.

Built as ingestion builds them (chalicelib.telemetry.ingest.items_of) and written in the same order, raw
records then their announcement to the rollup lanes, in BatchWriteItem batches of 25: the rollups find the demo as
they find any ingested batch. Left out, for make run's 60 s: the per-record checks and look-ups of the HTTP path
(the records are built valid) and the de-duplication guards (demo event ids are unique by construction, and
"demo-" ids are never re-sent). A few records per device and day.
"""
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from tqdm import tqdm

from chalicelib import clock
from chalicelib.rollups import lanes
from chalicelib.telemetry import db
from chalicelib.telemetry.ingest import items_of
from chalicelib.telemetry.models import AppSession, ConnectionEvent, TelemetryRecord, UsageRecord

DAYS = 7
CHUNK = 1_000        # records per write: whole BatchWriteItem requests, few lane messages per device
WRITERS = 4          # concurrent writes: the moto server answers while this process builds the next batch
APPS = (             # (app_id, app_name, app_category, typical response ms, failure rate)
    ("acs.inform", "ACS Inform", "management", 180, 0.01),
    ("ntp.pool", "NTP", "infrastructure", 40, 0.002),
    ("fw.cdn", "Firmware CDN", "updates", 320, 0.04),
    ("mqtt.broker", "MQTT Broker", "iot", 90, 0.02),
    ("video.stream", "StreamFlix", "streaming", 250, 0.03),
    ("dns.resolver", "DNS Resolver", "infrastructure", 25, 0.005),
)
DESTINATIONS = ("93.184.216.34", "151.101.1.69", "142.250.72.14", "104.16.132.229", "198.51.100.23", "8.8.8.8")
PROTOCOLS = (("TCP", 0.7), ("UDP", 0.27), ("ICMP", 0.03))


def load_demo_telemetry(devices: dict[int, list[int]], days: int = DAYS, seed: int = 2024,
                        progress: bool = True) -> int:
    """Write `days` of records for every device of {organization id: [device ids]}; answers how many."""
    rng = random.Random(seed)
    now = clock.now().replace(microsecond=0) - timedelta(minutes=1)
    by_kind: dict[str, list[tuple[TelemetryRecord, dict]]] = {"connection_event": [], "app_session": [], "usage": []}
    for organization_id, device_ids in devices.items():
        for device_id in device_ids:
            device = {"id": device_id, "organization_id": organization_id}
            for record in DeviceWeek(rng, device_id, now, days).records():
                by_kind[record.kind].append((record, device))
    chunks = [(kind, records[start:start + CHUNK]) for kind, records in by_kind.items()
              for start in range(0, len(records), CHUNK)]
    total = sum(len(records) for records in by_kind.values())
    with tqdm(total=total, desc="Loading demo telemetry", unit="record", disable=not progress) as bar, \
            ThreadPoolExecutor(WRITERS) as pool:
        for written in pool.map(lambda chunk: _write(*chunk), chunks):
            bar.update(written)
    return total


def _write(kind: str, records: list[tuple[TelemetryRecord, dict]]) -> int:
    raw, _, buckets = items_of(kind, records)
    db.put_all(raw)
    lanes.announce_records(buckets)
    return len(records)


class DeviceWeek:
    """One device's records: a connection session a day (Start, an Interim while long, Stop), and the app
    sessions and usage records inside it."""

    def __init__(self, rng: random.Random, device_id: int, now: datetime, days: int):
        self.rng, self.device_id, self.now, self.days = rng, device_id, now, days
        self.flaky = rng.random() < 0.1          # a few devices fail often: the summary's "poor" quality
        self.count = 0

    def records(self):
        rng = self.rng
        for day in range(self.days, 0, -1):
            start = self.now - timedelta(days=day) + timedelta(minutes=rng.randrange(0, 20 * 60))
            length = timedelta(minutes=rng.choice((10, 20, 30, 45, 60, 90, 180)))
            stop = min(start + length, self.now)
            session = f"JRadius-{self.device_id:05d}{day:02d}"
            ip = f"100.{64 + self.device_id % 64}.{self.device_id // 250 % 250}.{self.device_id % 250 + 2}"
            yield self._event(start, "Start", {"AccountSessionId": session, "FramedIpAddress": ip, "BytesUsed": "0"})
            used = 0
            for _ in range(2):
                at = start + (stop - start) * rng.random()
                yield self._app_session(at)
                mo, mt = rng.randrange(2_000, 400_000), rng.randrange(20_000, 4_000_000)
                used += mo + mt
                yield self._usage(at, mo, mt)
            if length > timedelta(hours=2):
                yield self._event(start + timedelta(hours=1), "Interim", {"AccountSessionId": session,
                                                                         "BytesUsed": str(used // 2)})
            yield self._event(stop, "Stop", {"AccountSessionId": session, "BytesUsed": str(used),
                                             "AccountSessionTime": str(int((stop - start).total_seconds())),
                                             "AccountTerminateCause": rng.choice(("1", "1", "1", "4", "6"))})

    def _id(self, kind: str) -> str:
        self.count += 1
        return f"demo-{self.device_id}-{kind}-{self.count}"

    def _event(self, at: datetime, event: str, attributes: dict) -> ConnectionEvent:
        return ConnectionEvent(event_id=self._id("conn"), device_id=self.device_id, occurred_at=clock.iso(at),
                               event=event, attributes=attributes)

    def _app_session(self, at: datetime) -> AppSession:
        app_id, name, category, typical_ms, failure_rate = self.rng.choice(APPS)
        success = self.rng.random() >= (failure_rate * 8 if self.flaky else failure_rate)
        return AppSession(event_id=self._id("app"), device_id=self.device_id, started_at=clock.iso(at), app_id=app_id,
                          app_name=name, app_category=category, success=success,
                          response_time_ms=round(typical_ms * self.rng.uniform(0.5, 2.5), 1),
                          duration_s=self.rng.randrange(1, 900) if success else 0,
                          bytes=self.rng.randrange(500, 2_000_000) if success else 0)

    def _usage(self, at: datetime, mo: int, mt: int) -> UsageRecord:
        protocol = self.rng.choices([p for p, _ in PROTOCOLS], [w for _, w in PROTOCOLS])[0]
        return UsageRecord(event_id=self._id("use"), device_id=self.device_id, occurred_at=clock.iso(at),
                           mo_bytes=mo, mt_bytes=mt, protocol=protocol,
                           destination_ip=self.rng.choice(DESTINATIONS))
