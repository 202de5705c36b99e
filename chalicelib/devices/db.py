"""Device items <-> DynamoDB: one transaction per write keeps guards, counters and audit in step.

A device write touches: the device item (conditional on its version), the uniqueness guards of its
serial number and identifiers, the counters of every filter scope it belongs to (one shard of each, so
`count` is one BatchGetItem of the shards), and an audit entry. All of it commits in one
TransactWriteItems, or none of it does. Nothing in it is an item every write of the fleet touches: ids
come from per-process blocks (store/sequences.py), counters from per-process shards (store/counters.py),
and the list indexes are sharded by device id (schema.DEVICE_INDEX_SHARDS).
"""
from boto3.dynamodb.conditions import Attr

from chalicelib import clock
from chalicelib.audit import db as audit_db
from chalicelib.diagnostics import db as diagnostics_db
from chalicelib.errors import Conflict, field_problem
from chalicelib.store import counters, dynamo, schema, sequences

PUBLIC_FIELDS = (
    "id", "uuid", "name", "customer_id", "is_active", "status", "status_change", "type", "type_short_name",
    "software_version", "hardware_version", "manufacturer", "unique_identifier", "product_class",
    "serial_number", "serial_number_alt", "description", "organization_id", "firmware_image",
    "firmware_image_is_pending", "location", "location_name", "location_short_name", "latitude", "longitude",
    "address", "mac_address", "identifiers", "username", "update_frequency", "debug", "last_connection",
    "last_configuration", "last_change", "created", "pending_settings",
)
KEY_ATTRIBUTES = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK")


class VersionChanged(Exception):
    """The device was written by someone else between our read and our write."""


def to_view(item: dict) -> dict:
    """The public view: an allow-list, so stored secrets (password ciphertext) never leak."""
    return {name: dynamo.plain(item.get(name)) for name in PUBLIC_FIELDS}


def get(device_id: int, consistent: bool = False) -> dict | None:
    return dynamo.get(schema.device_key(device_id), consistent)


def find_id(kind: str, value: str) -> int | None:
    """The id of the device holding a serial number (kind "serial") or an identifier, from its guard item."""
    key = schema.serial_guard_key(value) if kind == "serial" else schema.identifier_guard_key(kind, value)
    guard = dynamo.get(key)
    return int(guard["device_id"]) if guard else None


def count_for(organization_id: int | None, type_id: int | None, up: bool | None) -> int:
    scope = schema.count_scope(organization_id, type_id, _status(up))
    return counters.totals(schema.counter_keys(scope)).get("count", 0)


def _status(up: bool | None) -> str | None:
    return None if up is None else ("Up" if up else "Down")


def _item(record: dict) -> dict:
    device_id = int(record["id"])  # records read back hold Decimals, which the key builders cannot format
    keys = {**schema.device_key(device_id), **schema.device_list_keys(int(record["organization_id"]), device_id)}
    if record.get("pending_settings"):
        keys |= schema.pending_device_keys(device_id)
    return {**{k: v for k, v in record.items() if v is not None and k not in KEY_ATTRIBUTES},
            **keys, "entity": "Device"}


def _guards(record: dict) -> dict[str, tuple[str, dict]]:
    """PK -> (field, guard item) for every unique value the device holds."""
    guards = {}
    key = schema.serial_guard_key(record["serial_number"])
    guards[key["PK"]] = ("serial_number", {**key, "entity": "Guard", "device_id": int(record["id"])})
    for kind, value in (record.get("identifiers") or {}).items():
        key = schema.identifier_guard_key(kind, value)
        guards[key["PK"]] = (f"identifiers.{kind}", {**key, "entity": "Guard", "device_id": int(record["id"]),
                                                     "kind": kind, "value": value})
    return guards


def _scopes(record: dict | None) -> set[str]:
    if record is None:
        return set()
    return set(schema.count_scopes(int(record["organization_id"]), int(record["type"]), record["status"]))


def _counter_updates(old: dict | None, new: dict | None) -> list[tuple[str, dict]]:
    before, after = _scopes(old), _scopes(new)
    deltas = {scope: -1 for scope in before - after} | {scope: 1 for scope in after - before}
    if not deltas:
        return []
    shard = counters.writer_shard()
    return [("count", counters.add(schema.counter_key(scope, shard), {"count": delta}))
            for scope, delta in sorted(deltas.items())]


def _guard_actions(old: dict | None, new: dict | None) -> list[tuple[str, dict]]:
    before, after = (_guards(old) if old else {}), (_guards(new) if new else {})
    actions = []
    for pk in before.keys() - after.keys():
        field, item = before[pk]
        actions.append((field, {"Delete": {"Key": {"PK": item["PK"], "SK": item["SK"]}}}))
    for pk in after.keys() - before.keys():
        field, item = after[pk]
        actions.append((field, {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}))
    return actions


def _write(labelled: list[tuple[str, dict]]) -> None:
    """Map a cancelled transaction to the contract: the version check, or a 409 naming the field."""
    labels = [label for label, _ in labelled]
    try:
        dynamo.transact([action for _, action in labelled])
    except dynamo.Cancelled as cancelled:
        raise _translate(cancelled.reasons, labels) from None


def _translate(reasons: list[str], labels: list[str]) -> Exception:
    failed = [labels[i] for i, reason in enumerate(reasons) if reason == "ConditionalCheckFailed"]
    if not failed or "device" in failed:
        # A malformed write, or a new id already taken (the DEVICE sequence behind the table): a bug.
        return RuntimeError(f"device transaction cancelled: {reasons}")
    if "version" in failed:
        return VersionChanged()
    fields = sorted(set(failed))
    return Conflict(f"Another device already has this {', '.join(fields)}.", code="DUPLICATE_VALUE",
                    details=[field_problem(f, "already used by another device") for f in fields])


def _audit(record: dict, action: str, changes: dict, actor: dict | None, at,
           moved_from: int | None = None) -> list[tuple[str, dict]]:
    """The entry, in the device's organization and, for a move, in the one it left too."""
    return [("audit", put) for put in audit_db.entry_puts(int(record["organization_id"]), int(record["id"]), action,
                                                          changes, actor, at, moved_from=moved_from)]


def create(record: dict, changes: dict, actor: dict | None) -> int:
    """Store a new device under a fresh id.

    Raises:
        Conflict: the serial number or an identifier belongs to another device.
    """
    at = clock.now()
    labels: list[str] = []

    def actions(new_id: int) -> list[dict]:
        new = {**record, "id": new_id}
        labelled = [("device", {"Put": {"Item": _item(new), "ConditionExpression": "attribute_not_exists(PK)"}}),
                    *_guard_actions(None, new), *_counter_updates(None, new),
                    *_audit(new, "create", changes, actor, at),
                    ("health", diagnostics_db.state_put(new_id, new.get("update_frequency"),
                                                        clock.parse_iso(new["created"]) if new.get("created") else at))]
        labels[:] = [label for label, _ in labelled]
        return [action for _, action in labelled]

    try:
        return sequences.create_with_new_id("DEVICE", actions)
    except dynamo.Cancelled as cancelled:
        raise _translate(cancelled.reasons, labels) from None


def replace(old: dict, new: dict, changes: dict, actor: dict | None, extra: list[dict] = ()) -> None:
    """Write `new` over `old` if nobody wrote the device since `old` was read, with `extra` transaction
    items (the operations a PATCH queues) committed or refused together with it.

    Raises:
        VersionChanged: the device changed meanwhile.
        Conflict: a new serial number or identifier belongs to another device.
    """
    put = {"Put": {"Item": _item(new), "ConditionExpression": "version = :v",
                   "ExpressionAttributeValues": {":v": old["version"]}}}
    moved_from = int(old["organization_id"]) if int(old["organization_id"]) != int(new["organization_id"]) else None
    audit = _audit(new, "update", changes, actor, clock.now(), moved_from) if changes else []
    # The scheduled health check follows a new update_frequency (its due time is not on the device item).
    schedule = ([("health", diagnostics_db.reschedule(int(new["id"]), new.get("update_frequency"), clock.now()))]
                if old.get("update_frequency") != new.get("update_frequency") else [])
    # A failed condition on an extra item means someone else moved first, like the version check.
    _write([("version", put), *_guard_actions(old, new),
            *_counter_updates(old, new), *audit, *schedule,
            *(("version", action) for action in extra)])


def delete(old: dict, changes: dict, actor: dict | None) -> None:
    """Remove the device with its guards and counts, then everything stored under it.

    Raises:
        VersionChanged: the device changed meanwhile.
    """
    device_id = int(old["id"])
    remove = {"Delete": {"Key": schema.device_key(device_id), "ConditionExpression": "version = :v",
                         "ExpressionAttributeValues": {":v": old["version"]}}}
    # A diagnostic recorded since the read fails the health state's condition: read again, like a new version.
    diagnostic_counts = [("version", action)
                         for action in diagnostics_db.release_actions(device_id, int(old["organization_id"]))]
    _write([("version", remove), *_guard_actions(old, None), *_counter_updates(old, None),
            *_audit(old, "delete", changes, actor, clock.now()), *diagnostic_counts])
    # The device, its counts and its health state are gone atomically above; what else it owned is swept
    # after (diagnostic entries, operations...).
    from boto3.dynamodb.conditions import Key
    owned = dynamo.query_all(KeyConditionExpression=Key("PK").eq(schema.device_partition(device_id)),
                             ProjectionExpression="PK, SK")
    dynamo.delete_keys(owned)
    from chalicelib.rollups import purge  # its telemetry and aggregates go in the background (docs/rollups.md)
    purge.request(int(old["id"]))


def list_page(organization_id: int | None, type_id: int | None, up: bool | None, changed_since: str | None,
              pending: bool, limit: int, offset: int, after: str | None) -> tuple[list[dict], bool, int]:
    """A page of devices by id ascending, its `more` flag, and the count of all matches."""
    if pending:
        index, pks = "GSI3", schema.pending_partitions()
    elif organization_id is not None:
        index, pks = "GSI1", schema.org_devices_partitions(organization_id)
    else:
        index, pks = "GSI2", schema.fleet_devices_partitions()
    conditions = []
    if pending and organization_id is not None:
        conditions.append(Attr("organization_id").eq(organization_id))
    if type_id is not None:
        conditions.append(Attr("type").eq(type_id))
    if up is not None:
        conditions.append(Attr("status").eq(_status(up)))
    if changed_since is not None:
        conditions.append(Attr("status_change").gte(changed_since))
    expression = dynamo.all_of(conditions)
    items, more = dynamo.read_merged(index, pks, limit, offset=offset, after=after, filter_expression=expression)
    if pending or changed_since is not None:
        total = dynamo.count_merged(index, pks, expression)  # no counter covers these filters
    else:
        total = count_for(organization_id, type_id, up)
    return items, more, total


def sort_value(item: dict) -> str:
    return schema.device_sort_value(int(item["id"]))
