"""Telemetry ingestion (API.md §5): validate record by record, resolve devices, de-duplicate, write in batches.

A batch is written in three steps, in this order, so that a crash at any point leaves nothing a redelivery
cannot repair:
1. the raw records (BatchWriteItem). Their keys are deterministic (device, kind, time, event id): writing
   one again writes the same item, so even two concurrent deliveries of a batch cannot double a figure;
2. one message per rollup lane the batch touches, naming its (device, hour, kind) buckets (rollups/lanes.py):
   the lane recomputes those buckets from the raw records, so the message follows the records it announces,
   and it is sent before the answer, so a rollup asked for after the answer finds it (API.md §9);
3. the de-duplication guards. Until they exist a redelivery is treated as new, and redoes 1 and 2 harmlessly.
Two write units a record (a raw item and its guard, each under 1 KB): the announcement costs no table write.
"""
from pydantic import ValidationError

from chalicelib import clock
from chalicelib.devices.models import Identifiers
from chalicelib.observability import (
    TELEMETRY_RECORDS_ACCEPTED,
    TELEMETRY_RECORDS_DUPLICATE,
    TELEMETRY_RECORDS_REJECTED,
    metrics,
)
from chalicelib.rollups import lanes
from chalicelib.store import schema
from chalicelib.telemetry import db
from chalicelib.telemetry.models import DeviceIdentifier, IngestRequest, TelemetryRecord, problems, validate_record
from chalicelib.tokens.models import Principal

DeviceRef = int | DeviceIdentifier
MAX_REASON = 200


def ingest(principal: Principal, kind: str, body: IngestRequest) -> dict:
    """Store the batch's good records: {"accepted", "duplicates", "rejected": [{"index", "code", "error"...}]}.

    Raises:
        Forbidden: the token lacks telemetry:write.
    """
    principal.require("telemetry:write")
    rejected: list[dict] = []
    valid: list[tuple[int, TelemetryRecord]] = []
    for index, raw in enumerate(body.records):
        try:
            valid.append((index, validate_record(kind, raw)))
        except ValidationError as error:
            rejected.append({"index": index, "code": "INVALID_RECORD", "error": _reason(problems(error))})

    devices = resolve_devices(principal, {record.device_id for _, record in valid})
    fresh: dict[str, tuple[TelemetryRecord, dict]] = {}   # guard PK -> (record, device), first of each event id
    duplicates = 0
    for index, record in valid:
        device = devices.get(record.device_id)
        if device is None:
            rejected.append({"index": index, "code": "DEVICE_NOT_FOUND", "error": _not_found(record.device_id)})
            continue
        guard = schema.event_guard_key(device["organization_id"], kind, record.event_id)["PK"]
        if guard in fresh:
            duplicates += 1       # the same event twice in one request
            continue
        fresh[guard] = (record, device)
    seen = {item["PK"] for item in db.get_all(
        [schema.event_guard_key(device["organization_id"], kind, record.event_id) for record, device in fresh.values()],
        projection="PK")}
    new = [(record, device) for guard, (record, device) in fresh.items() if guard not in seen]
    duplicates += len(fresh) - len(new)
    if new:
        write(kind, new)
    rejected.sort(key=lambda rejection: rejection["index"])
    for name, value in ((TELEMETRY_RECORDS_ACCEPTED, len(new)), (TELEMETRY_RECORDS_DUPLICATE, duplicates),
                        (TELEMETRY_RECORDS_REJECTED, len(rejected))):
        if value:
            metrics.add_metric(name=name, unit="Count", value=value)
    return {"accepted": len(new), "duplicates": duplicates, "rejected": rejected}


def write(kind: str, records: list[tuple[TelemetryRecord, dict]]) -> None:
    """Raw records, then their announcement to the rollups, then their guards (see the module docstring for why).

    Raises:
        ServiceUnavailable: DynamoDB or SQS refused after retries (nothing acknowledged; a retry is safe).
    """
    raw, guards, buckets = items_of(kind, records)
    db.put_all(raw)
    lanes.announce_records(buckets)
    db.put_all(guards)


def items_of(kind: str, records: list[tuple[TelemetryRecord, dict]]) -> tuple[list[dict], list[dict], set[tuple]]:
    """(raw items, guard items, buckets (organization, device, hour, kind)) of (record, device) pairs."""
    ingested_at = clock.iso(clock.now())
    raw, guards, buckets = [], [], set()
    for record, device in records:
        organization_id, device_id = device["organization_id"], device["id"]
        raw.append(db.raw_item(kind, organization_id, device_id, record.event_id, record.at, record.fields(),
                               record.time_field, ingested_at))
        guards.append(db.guard_item(kind, organization_id, device_id, record.event_id, record.at))
        buckets.add((organization_id, device_id, db.hour_of(record.at), kind))
    return raw, guards, buckets


def resolve_devices(principal: Principal, refs: set[DeviceRef]) -> dict[DeviceRef, dict]:
    """{reference: {"id", "organization_id"}} for each reference naming a device the caller may see.

    Each distinct reference is looked up once per request: the guards of serials and identifiers in one
    BatchGetItem (per 100), then the devices in another.
    """
    guard_keys: dict[DeviceRef, dict] = {}
    for ref in refs:
        if isinstance(ref, DeviceIdentifier) and (value := _stored_form(ref)) is not None:
            guard_keys[ref] = (schema.serial_guard_key(value) if ref.kind == "serial"
                               else schema.identifier_guard_key(ref.kind, value))
    guards = {(g["PK"], g["SK"]): int(g["device_id"])
              for g in db.get_all(list(guard_keys.values()), projection="PK, SK, device_id")}
    ids: dict[DeviceRef, int] = {ref: ref for ref in refs if isinstance(ref, int)}
    for ref, key in guard_keys.items():
        if (key["PK"], key["SK"]) in guards:
            ids[ref] = guards[(key["PK"], key["SK"])]
    found = {}
    for item in db.get_all([schema.device_key(device_id) for device_id in set(ids.values())],
                           projection="id, organization_id"):
        if principal.can_see(int(item["organization_id"])):
            found[int(item["id"])] = {"id": int(item["id"]), "organization_id": int(item["organization_id"])}
    return {ref: found[device_id] for ref, device_id in ids.items() if device_id in found}


def _stored_form(ref: DeviceIdentifier) -> str | None:
    """The identifier as the device's guard holds it (normalised as on create); None if no device could hold it."""
    if ref.kind == "serial":
        return ref.id
    try:
        return getattr(Identifiers.model_validate({ref.kind: ref.id}), ref.kind)
    except ValidationError:
        return None


def _reason(details: list[dict]) -> str:
    """'field: problem; field: problem', cut at MAX_REASON characters: a thousand rejections, each naming the
    client's own (unbounded) field names, must still fit the answer, and the Idempotency-Key record that may
    keep it (one DynamoDB item, 400 KB)."""
    text = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def _not_found(ref: DeviceRef) -> str:
    if isinstance(ref, int):
        return f"no device with id {ref}"
    return f"no device with {ref.kind} {ref.id}"
