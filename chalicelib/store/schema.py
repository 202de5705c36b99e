"""THE table: key schema, indexes, TTL, key builders and every access pattern.

Single-table design (DeBrie): generic key names (PK/SK, GSIn PK/SK), entity-prefixed values and
numbers zero-padded to 10 digits so that string order is numeric order. Every key string of the
project is built here; docs/data-model.md lists ACCESS_PATTERNS (a test keeps the two in step).
"""
from dataclasses import dataclass

TTL_ATTRIBUTE = "expires_at"
INDEXES = ("GSI1", "GSI2", "GSI3")


def table_definition(table_name: str) -> dict:
    """create_table arguments; the tests, the local run and the deployment template all use it."""
    keys = [("PK", "HASH"), ("SK", "RANGE")]
    attributes = ["PK", "SK"]
    indexes = []
    for index in INDEXES:
        attributes += [f"{index}PK", f"{index}SK"]
        indexes.append({
            "IndexName": index,
            "KeySchema": [{"AttributeName": f"{index}PK", "KeyType": "HASH"},
                          {"AttributeName": f"{index}SK", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        })
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in attributes],
        "GlobalSecondaryIndexes": indexes,
    }


def _n(number: int) -> str:
    return f"{int(number):010d}"  # ids read back from DynamoDB arrive as Decimal


# --- key builders: one function per key shape -------------------------------------------------

# --- shards of the keys every device write touches (docs/capacity.md, "Write path") ---------------
# A partition key takes about 1,000 writes/s, and ours is 300 at target: a key that every device write of
# the fleet (or of its largest organization) writes is spread over shards. Index entries of one device stay
# in one shard (by its id), so a list reads each shard from the same cursor and merges them in order.
DEVICE_INDEX_SHARDS = 8     # DEVICES, ORG#<org>#DEVICES, PENDING (capacity.md: 388/s a key at 4)
AUDIT_SHARDS = 4            # AUDIT#ORG#<org>, AUDIT (fleet)
COUNTER_SHARDS = 16         # COUNT#<scope>, COUNT#DIAGS#<scope>: one shard per writer, read in one BatchGetItem
DUE_SHARDS = 4              # the health checks' due-time index
DIAG_INDEX_SHARDS = 4       # ORG#<org>#DIAGS, DIAGS (fleet)


def _shard(device_id: int, shards: int) -> int:
    return int(device_id) % shards


def _each_shard(build, shards: int) -> list:
    """build(shard) for every shard: the keys a read of the whole set takes together."""
    return [build(shard) for shard in range(shards)]


def sequence_key(entity: str) -> dict:
    """Id allocator of an entity (DEVICE, ORG, ...): `last_id`, advanced by blocks (store/sequences.py); and
    the writer slots (entity WRITER) from which a process picks its counter shard."""
    return {"PK": f"SEQ#{entity}", "SK": "SEQ"}


def counter_key(scope: str, shard: int) -> dict:
    """One shard of the device count of a filter scope (see count_scopes); the count is the sum of all."""
    return {"PK": f"COUNT#{scope}#{shard:02d}", "SK": "COUNT"}


def counter_keys(scope: str) -> list[dict]:
    return _each_shard(lambda shard: counter_key(scope, shard), COUNTER_SHARDS)


def count_scope(organization_id: int | None, type_id: int | None, status: str | None) -> str:
    """The counter scope of one combination of the countable list filters (None = any)."""
    parts = [f"{name}#{value}" for name, value in
             (("ORG", organization_id), ("TYPE", type_id), ("STATUS", status)) if value is not None]
    return "#".join(parts) or "ALL"


def count_scopes(organization_id: int, type_id: int, status: str) -> list[str]:
    """Every counter a device adds one to: each subset of its organization, type and status."""
    return [count_scope(organization_id if mask & 1 else None, type_id if mask & 2 else None,
                        status if mask & 4 else None) for mask in range(8)]


def device_key(device_id: int) -> dict:
    return {"PK": f"DEV#{_n(device_id)}", "SK": "DEV"}


def device_partition(device_id: int) -> str:
    """Everything owned by a device lives under this PK (removed with it)."""
    return f"DEV#{_n(device_id)}"


def device_list_keys(organization_id: int, device_id: int) -> dict:
    shard = _shard(device_id, DEVICE_INDEX_SHARDS)
    return {"GSI1PK": org_devices_pk(organization_id, shard), "GSI1SK": _n(device_id),
            "GSI2PK": fleet_devices_pk(shard), "GSI2SK": _n(device_id)}


def org_devices_pk(organization_id: int, shard: int) -> str:
    return f"ORG#{_n(organization_id)}#DEVICES#{shard}"


def org_devices_partitions(organization_id: int) -> list[str]:
    return _each_shard(lambda shard: org_devices_pk(organization_id, shard), DEVICE_INDEX_SHARDS)


def fleet_devices_pk(shard: int) -> str:
    return f"DEVICES#{shard}"


def fleet_devices_partitions() -> list[str]:
    """GSI2: every device of the fleet, by id within each shard."""
    return _each_shard(fleet_devices_pk, DEVICE_INDEX_SHARDS)


def pending_device_keys(device_id: int) -> dict:
    """Sparse index entry, present only while a device has unfinished operations."""
    return {"GSI3PK": pending_pk(_shard(device_id, DEVICE_INDEX_SHARDS)), "GSI3SK": _n(device_id)}


def pending_pk(shard: int) -> str:
    return f"PENDING#{shard}"


def pending_partitions() -> list[str]:
    return _each_shard(pending_pk, DEVICE_INDEX_SHARDS)


def device_sort_value(device_id: int) -> str:
    return _n(device_id)


def serial_guard_key(serial_number: str) -> dict:
    # Serial numbers are unique regardless of case: operators type them both ways.
    return {"PK": f"SERIAL#{serial_number.upper()}", "SK": "GUARD"}


def identifier_guard_key(kind: str, value: str) -> dict:
    return {"PK": f"IDENT#{kind}#{value.upper()}", "SK": "GUARD"}


def organization_key(organization_id: int) -> dict:
    return {"PK": f"ORG#{_n(organization_id)}", "SK": "ORG"}


# The catalogues' lists: one partition each, written only when an admin adds an entry (a few a day).
ORGANIZATIONS_PK, DEVICE_TYPES_PK, FIRMWARE_PK, TOKENS_PK = "ORGS", "DTYPES", "FIRMWARE", "TOKENS"


def organization_list_keys(organization_id: int) -> dict:
    return {"GSI2PK": ORGANIZATIONS_PK, "GSI2SK": _n(organization_id)}


def organization_name_guard_key(name: str) -> dict:
    return {"PK": f"ORGNAME#{name.strip().lower()}", "SK": "GUARD"}


def device_type_key(type_id: int) -> dict:
    return {"PK": f"DTYPE#{_n(type_id)}", "SK": "DTYPE"}


def device_type_list_keys(type_id: int) -> dict:
    return {"GSI2PK": DEVICE_TYPES_PK, "GSI2SK": _n(type_id)}


def device_type_name_guard_key(short_name: str) -> dict:
    return {"PK": f"DTYPENAME#{short_name.lower()}", "SK": "GUARD"}


def firmware_key(image_id: int) -> dict:
    return {"PK": f"FW#{_n(image_id)}", "SK": "FW"}


def firmware_list_keys(image_id: int) -> dict:
    return {"GSI2PK": FIRMWARE_PK, "GSI2SK": _n(image_id)}


def token_key(token_hash: str) -> dict:
    return {"PK": f"TOKEN#{token_hash}", "SK": "TOKEN"}


def token_list_keys(organization_id: int | None, token_id: int) -> dict:
    keys = {"GSI2PK": TOKENS_PK, "GSI2SK": _n(token_id)}
    if organization_id is not None:
        keys |= {"GSI1PK": org_tokens_pk(organization_id), "GSI1SK": _n(token_id)}
    return keys


def org_tokens_pk(organization_id: int) -> str:
    return f"ORG#{_n(organization_id)}#TOKENS"


def token_sort_value(token_id: int) -> str:
    return _n(token_id)


# A token's requests are counted on one key: at most this many a second (ratelimit.py splits a faster limit).
RATE_KEY_WRITES_PER_SECOND = 250


def rate_window_key(token_id: int, window_start: int, shard: int = 0) -> dict:
    """A token's request count in one minute; a token allowed more than RATE_KEY_WRITES_PER_SECOND has shards."""
    return {"PK": f"RATE#{_n(token_id)}" + (f"#{shard}" if shard else ""), "SK": str(window_start)}


IDEMPOTENCY_PK = "IDEMPOTENCY"


def idempotency_record_key(idempotency_key: str) -> dict:
    """A powertools idempotency record in a partition of its own: records are only ever read by their key, and
    one shared partition would take two writes of every POST or PATCH sent with an Idempotency-Key."""
    return {"PK": f"{IDEMPOTENCY_PK}#{idempotency_key}", "SK": IDEMPOTENCY_PK}


def operation_key(device_id: int, operation_id: int) -> dict:
    return {"PK": device_partition(device_id), "SK": f"OP#{_n(operation_id)}"}


def operation_sort_prefix() -> str:
    return "OP#"


# Every operation writes its OPEN_OPS entry three times (created, dispatched, finished) and its outbox entry
# twice: spread by device over this many partitions each (docs/capacity.md), read one Query per shard.
OPERATION_SHARDS = 16


def operation_shard(device_id: int) -> int:
    return int(device_id) % OPERATION_SHARDS


def open_operations_pk(shard: int) -> str:
    return f"OPEN_OPS#{shard:02d}"


def open_operation_keys(deadline: str, device_id: int, operation_id: int) -> dict:
    """Sparse index entry of an unfinished operation, by deadline, for the time-out sweep."""
    return {"GSI3PK": open_operations_pk(operation_shard(device_id)),
            "GSI3SK": f"{deadline}#{_n(device_id)}#{_n(operation_id)}"}


def outbox_pk(shard: int) -> str:
    return f"OUTBOX#{shard:02d}"


def outbox_keys(send_at: str, device_id: int, operation_id: int) -> dict:
    """Sparse index entry of an operation no agent has picked up yet, by when to send it again (the sweep
    re-sends a message lost after its commit); the agent's first transition removes it."""
    return {"GSI2PK": outbox_pk(operation_shard(device_id)), "GSI2SK": f"{send_at}#{_n(device_id)}#{_n(operation_id)}"}


def simulator_key(device_id: int) -> dict:
    """How the simulated driver's device behaves (PUT /admin/simulator/{id}/)."""
    return {"PK": device_partition(device_id), "SK": "SIM"}


def audit_keys(organization_id: int, device_id: int, at: str, entry_id: str) -> dict:
    """One audit entry, reachable by organization, by device and fleet-wide, newest first."""
    sort = audit_sort_value(at, entry_id)
    shard = _shard(device_id, AUDIT_SHARDS)
    return {"PK": audit_org_pk(organization_id, shard), "SK": sort,
            "GSI1PK": audit_device_pk(device_id), "GSI1SK": sort,
            "GSI2PK": audit_fleet_pk(shard), "GSI2SK": sort}


def audit_copy_keys(organization_id: int, device_id: int, at: str, entry_id: str) -> dict:
    """The same entry in a second organization's trail (the one a device moved out of): in that
    organization's partition only, so the device's and the fleet's trails show the entry once."""
    return {"PK": audit_org_pk(organization_id, _shard(device_id, AUDIT_SHARDS)), "SK": audit_sort_value(at, entry_id)}


def audit_sort_value(at: str, entry_id: str) -> str:
    return f"{at}#{entry_id}"


def audit_org_pk(organization_id: int, shard: int) -> str:
    return f"AUDIT#ORG#{_n(organization_id)}#{shard}"


def audit_org_partitions(organization_id: int) -> list[str]:
    return _each_shard(lambda shard: audit_org_pk(organization_id, shard), AUDIT_SHARDS)


def audit_fleet_pk(shard: int) -> str:
    return f"AUDIT#{shard}"


def audit_fleet_partitions() -> list[str]:
    """GSI2: the fleet's audit trail (platform tokens, the rollups' device changes), by time within each shard."""
    return _each_shard(audit_fleet_pk, AUDIT_SHARDS)


def audit_device_pk(device_id: int) -> str:
    return f"AUDIT#DEV#{_n(device_id)}"


# --- diagnostics (API.md §4): key builders of chalicelib/diagnostics ------------------------------

DIAG_SORT_PREFIX = "DIAG#"
DUE_PK = "DUE"


def diagnostic_keys(organization_id: int, device_id: int, created_at: str, entry_id: str) -> dict:
    """One entry: in its device's partition (newest first, removed with the device), and by organization
    and fleet-wide on GSI1/GSI2 under the same time-ordered sort value (free on these items)."""
    sort = diagnostic_sort_value(created_at, entry_id)
    shard = _shard(device_id, DIAG_INDEX_SHARDS)
    return {"PK": device_partition(device_id), "SK": DIAG_SORT_PREFIX + sort,
            "GSI1PK": org_diagnostics_pk(organization_id, shard), "GSI1SK": sort,
            "GSI2PK": fleet_diagnostics_pk(shard), "GSI2SK": sort}


def diagnostic_sort_value(created_at: str, entry_id: str) -> str:
    """`created_at` is clock.iso (UTC, ms, Z): string order is time order; ties broken by the entry id."""
    return f"{created_at}#{entry_id}"


def org_diagnostics_pk(organization_id: int, shard: int) -> str:
    return f"ORG#{_n(organization_id)}#DIAGS#{shard}"


def org_diagnostics_partitions(organization_id: int) -> list[str]:
    return _each_shard(lambda shard: org_diagnostics_pk(organization_id, shard), DIAG_INDEX_SHARDS)


def fleet_diagnostics_pk(shard: int) -> str:
    return f"DIAGS#{shard}"


def fleet_diagnostics_partitions() -> list[str]:
    return _each_shard(fleet_diagnostics_pk, DIAG_INDEX_SHARDS)


def health_state_key(device_id: int) -> dict:
    """A device's health-check state: next_check_due, last_check and its entry counts. A separate item:
    the device item's GSI3 is taken by the sparse PENDING index."""
    return {"PK": device_partition(device_id), "SK": "HEALTH"}


def health_due_keys(next_check_due: str, device_id: int) -> dict:
    """The state item's place in the due-time index, read by the scheduled health check."""
    return {"GSI3PK": due_pk(_shard(device_id, DUE_SHARDS)), "GSI3SK": f"{next_check_due}#{_n(device_id)}"}


def due_pk(shard: int) -> str:
    return f"{DUE_PK}#{shard}"


def due_partitions() -> list[str]:
    return _each_shard(due_pk, DUE_SHARDS)


def diagnostic_counter_key(organization_id: int | None, shard: int) -> dict:
    """One shard of the entry counts of one organization, or of the fleet (None)."""
    scope = f"ORG#{_n(organization_id)}" if organization_id is not None else "ALL"
    return {"PK": f"COUNT#DIAGS#{scope}#{shard:02d}", "SK": "COUNT"}


def diagnostic_counter_keys(organization_id: int | None) -> list[dict]:
    return _each_shard(lambda shard: diagnostic_counter_key(organization_id, shard), COUNTER_SHARDS)


# --- telemetry (API.md §5, §6): raw records and their de-duplication guards ------------------------

# The three record kinds and the suffix of their per-device partition.
TELEMETRY_KINDS: dict[str, str] = {"connection_event": "CONN", "app_session": "APP", "usage": "USE"}


def telemetry_partition(device_id: int, kind: str) -> str:
    """A device's records of one kind: one sorted range, so a history page is one Query."""
    return f"{device_partition(device_id)}#{TELEMETRY_KINDS[kind]}"


def telemetry_sort_value(at: str, event_id: str) -> str:
    """`at` is clock.iso (UTC, ms, Z): string order is time order; ties at one millisecond by event_id."""
    return f"{at}#{event_id}"


def telemetry_key(device_id: int, kind: str, at: str, event_id: str) -> dict:
    return {"PK": telemetry_partition(device_id, kind), "SK": telemetry_sort_value(at, event_id)}


def event_guard_key(organization_id: int, kind: str, event_id: str) -> dict:
    """One per accepted record: event ids are the client's, unique within its organization and kind."""
    return {"PK": f"EVT#{_n(organization_id)}#{TELEMETRY_KINDS[kind]}#{event_id}", "SK": "GUARD"}


# --- rollups and their aggregates (API.md §7, §8): key builders of chalicelib/rollups --------------
# docs/rollups.md describes every item; the lane of a device (device_id % ROLLUP_LANES) is the only writer of the
# items under its device, organization-wide items receive guarded ADDs from every lane.

PERIOD_LEVELS = ("H", "D", "M")   # hour (clock.iso of its start), UTC day (YYYY-MM-DD), month (YYYY-MM)
# An organization's subscriber and IP entries (of a day, with its hours inside, or of a month) are spread over this
# many partitions per level (by a hash of the entry's key), so that no partition key takes more than 300 writes/s at
# the targets (docs/capacity.md).
MAP_SHARDS = 8
MAPS = ("SUB", "IP")


def device_aggregates_partition(device_id: int) -> str:
    """Every aggregate of one device: its §8 hours, days, months and IP entries, its §7 app buckets and its summary
    row. Written by the device's lane only; removed whole by the delete cascade."""
    return f"{device_partition(device_id)}#AGG"


def device_period_key(device_id: int, level: str, period: str, organization_id: int) -> dict:
    """A device's §8 figures in one hour (H), day (D) or month (M), for the records of one organization."""
    return {"PK": device_aggregates_partition(device_id), "SK": f"{level}#{period}#{_n(organization_id)}"}


def device_period_sort_value(level: str, period: str) -> str:
    """The sort-key prefix of a device's items of one level and period (every organization)."""
    return f"{level}#{period}"


def device_ip_key(device_id: int, level: str, period: str, organization_id: int, ip: str) -> dict:
    """A device's usage to one IP address in one hour or day, for an hour or day that has too many addresses to keep
    them inside its own item (rollups/usage.py, INLINE_IPS)."""
    return {"PK": device_aggregates_partition(device_id), "SK": f"I#{level}#{period}#{_n(organization_id)}#{ip}"}


def device_ip_sort_value(level: str, period: str) -> str:
    return f"I#{level}#{period}"


def app_bucket_key(device_id: int, size: str, start: str) -> dict:
    """A device's app-session figures in one bucket: size "M" (5 minutes), "H" (hour) or "D" (UTC day);
    `start` = clock.iso of the bucket start. Beside the device's other aggregates: one Query reads a range of them."""
    return {"PK": device_aggregates_partition(device_id), "SK": app_bucket_sort_value(size, start)}


def app_bucket_sort_value(size: str, start: str) -> str:
    return f"APP#{size}#{start}"


def organization_day_key(organization_id: int, day: str) -> dict:
    """An organization's §8 totals of one UTC day, hour by hour: what data-usage, session-count and the per-protocol
    path read (366 of them for a year's range)."""
    return {"PK": organization_day_partition(organization_id), "SK": day}


def organization_day_partition(organization_id: int) -> str:
    return f"AGG#ORG#{_n(organization_id)}#DAY"


def map_shard(key: str) -> int:
    """The partition (0..MAP_SHARDS-1) of a subscriber or IP entry: a stable hash of its key."""
    from zlib import crc32
    return crc32(key.encode()) % MAP_SHARDS


def map_entry_key(organization_id: int, kind: str, level: str, period: str, key: str) -> dict:
    """One subscriber (kind SUB, key = physicalId) or IP address (kind IP) of an organization in one day (level D,
    its hours inside) or month (M). Sorted by period then key: a range of periods is one key range of a partition."""
    return {"PK": map_partition(organization_id, kind, level, map_shard(key)), "SK": f"{period}#{key}"}


def map_partition(organization_id: int, kind: str, level: str, shard: int) -> str:
    return f"AGG#ORG#{_n(organization_id)}#{kind}#{level}#{shard}"


def _part(text: str) -> str:
    """A free-text value (an app category) inside a key: percent-encoded, so no value can contain a `#` or
    equal the `*` that stands for "every category"."""
    from urllib.parse import quote
    return quote(text, safe="")


ALL = "*"


def summary_scope(organization_id: int | None) -> str:
    """The summary's tenant: one organization, or the whole fleet (a platform token's view)."""
    return "ALL" if organization_id is None else f"ORG#{_n(organization_id)}"


def summary_row_key(device_id: int) -> dict:
    """A device's summary state and row of the connection summary, for every window and app category (a page reads
    them by BatchGetItem)."""
    return {"PK": device_aggregates_partition(device_id), "SK": "SUMROW"}


def _index_base(scope: str, window: str) -> str:
    return f"SIDX#{scope}#{window}"


def summary_index_keys(scope: str, window: str, device_type: str, status: str, device_id: int) -> dict:
    """A device's entry in the summary's listing of (scope, window): by device id on the table, and by device
    type, by status, and by both on GSI1-3, so that every filter but the app category is a key condition.
    Status and type are key attributes: a change rewrites this one item, and DynamoDB moves it in the indexes."""
    base, sort = _index_base(scope, window), _n(device_id)
    return {"PK": base, "SK": sort, "GSI1PK": f"{base}#T#{device_type}", "GSI1SK": sort,
            "GSI2PK": f"{base}#S#{status}", "GSI2SK": sort,
            "GSI3PK": f"{base}#T#{device_type}#S#{status}", "GSI3SK": sort}


def summary_index_partition(scope: str, window: str, device_type: str | None,
                            status: str | None) -> tuple[str | None, str]:
    """(index, partition key) of the listing for one combination of filters (None = not filtered)."""
    base = _index_base(scope, window)
    if device_type is not None and status is not None:
        return "GSI3", f"{base}#T#{device_type}#S#{status}"
    if status is not None:
        return "GSI2", f"{base}#S#{status}"
    if device_type is not None:
        return "GSI1", f"{base}#T#{device_type}"
    return None, base


def summary_sort_value(device_id: int) -> str:
    return _n(device_id)


def summary_partition(scope: str, window: str, device_type: str, category: str) -> str:
    """The summary figures of one (scope, window, device type or `*`, app category or `*`): one item per lane, each
    the sum of its lane's devices (a lane rewrites its own only), read together by one Query."""
    category = category if category == ALL else _part(category)
    return f"SUMMARY#{scope}#{window}#T#{device_type}#C#{category}"


def summary_key(scope: str, window: str, device_type: str, category: str, lane: int) -> dict:
    return {"PK": summary_partition(scope, window, device_type, category), "SK": f"{lane:04d}"}


ROLLUP_STATE_PK = "ROLLUP#STATE"


def rollup_state_key(name: str) -> dict:
    """The scheduled run's own state: DEVICES (its watermark in the audit trail)."""
    return {"PK": ROLLUP_STATE_PK, "SK": name}


LANE_STATES_PK = "ROLLUP#LANES"


def lane_state_key(lane: int) -> dict:
    """A lane's state: seq, computed_at, its last tick, its wake-slot watermark, an uncommitted journal. Every lane's
    in one partition: one Query (or BatchGetItem) reads them all."""
    return {"PK": LANE_STATES_PK, "SK": f"{lane:04d}"}


def lane_pending_partition(lane: int) -> str:
    """What a lane has been told since its last unit (records, device changes, purges); never expires."""
    return f"ROLLUP#LANE#{lane:04d}#PENDING"


def lane_journal_key(lane: int, seq: int, page: int) -> dict:
    return {"PK": f"ROLLUP#LANE#{lane:04d}#JOURNAL", "SK": f"{seq:012d}#{page:04d}"}


def lane_journal_partition(lane: int) -> str:
    return lane_journal_key(lane, 0, 0)["PK"]


def lane_journal_prefix(seq: int) -> str:
    return f"{seq:012d}#"


def wake_partition(lane: int) -> str:
    """A lane's devices whose summary figures change by themselves at a given time (sorted by it): a tick reads those
    due up to its time with one Query."""
    return f"ROLLUP#LANE#{lane:04d}#WAKE"


def wake_key(lane: int, at: str, device_id: int) -> dict:
    return {"PK": wake_partition(lane), "SK": f"{at}#{_n(device_id)}"}


def rollup_state_organization(name: str) -> int | None:
    """The organization of an organization_rollup_state name; None for the other state items."""
    return int(name.removeprefix("ORG#")) if name.startswith("ORG#") else None


# --- bulk operations (API.md §11): key builders of chalicelib/bulk ----------------------------------

# Target items are spread by device over this many partitions (expansion writes them in bursts, and every
# transition of a device's operation writes its target); progress counters over this many items (one
# UpdateItem ADD per agent batch, on each in turn).
BULK_TARGET_SHARDS = 4
BULK_PROGRESS_SHARDS = 4
BULKS_PK = "BULKS"
BULKS_ACTIVE_PK = "BULKS_ACTIVE"
BULK_HEAD_PREFIX = "BULK"
BULK_IDS_PREFIX = "IDS#"


def bulk_partition(bulk_id: int) -> str:
    return f"BULK#{_n(bulk_id)}"


def bulk_key(bulk_id: int) -> dict:
    """The bulk operation: its request, state and final progress (a fixed size)."""
    return {"PK": bulk_partition(bulk_id), "SK": BULK_HEAD_PREFIX}


def bulk_pacer_key(bulk_id: int) -> dict:
    """The background's state of one bulk operation: round, cursors, the last minute's slices. Sorted right
    after the bulk item, so that one Query (SK begins_with BULK) reads both."""
    return {"PK": bulk_partition(bulk_id), "SK": f"{BULK_HEAD_PREFIX}#PACER"}


def bulk_ids_key(bulk_id: int, chunk: int) -> dict:
    """Up to 1,000 of the device ids a target names (at most 10 chunks)."""
    return {"PK": bulk_partition(bulk_id), "SK": f"{BULK_IDS_PREFIX}{chunk:04d}"}


def bulk_list_keys(organization_id: int | None, bulk_id: int, created: str) -> dict:
    """By organization (GSI1; a bulk operation over all organizations has none) and platform-wide (GSI2), by
    creation time (ids come from per-process blocks: their order is not the order of creation)."""
    sort = bulk_sort_value(created, bulk_id)
    keys = {"GSI2PK": BULKS_PK, "GSI2SK": sort}
    if organization_id is not None:
        keys |= {"GSI1PK": org_bulks_pk(organization_id), "GSI1SK": sort}
    return keys


def org_bulks_pk(organization_id: int) -> str:
    return f"ORG#{_n(organization_id)}#BULKS"


def bulk_active_keys(bulk_id: int) -> dict:
    """Sparse entry while the background still has work on it (until closed): read by the revival schedule."""
    return {"GSI3PK": BULKS_ACTIVE_PK, "GSI3SK": _n(bulk_id)}


def bulk_sort_value(created: str, bulk_id: int) -> str:
    return f"{created}#{_n(bulk_id)}"


def bulk_progress_key(bulk_id: int, shard: int) -> dict:
    return {"PK": f"{bulk_partition(bulk_id)}#P#{shard}", "SK": "PROGRESS"}


def bulk_target_shard(device_id: int) -> int:
    return int(device_id) % BULK_TARGET_SHARDS


def bulk_target_partition(bulk_id: int, shard: int) -> str:
    return f"{bulk_partition(bulk_id)}#T#{shard}"


def bulk_target_key(bulk_id: int, device_id: int) -> dict:
    """One device of a bulk operation's target: its state there, its operation id and error."""
    return {"PK": bulk_target_partition(bulk_id, bulk_target_shard(device_id)), "SK": _n(device_id)}


def bulk_target_sort_value(device_id: int) -> str:
    return _n(device_id)


def bulk_queued_pk(bulk_id: int, shard: int) -> str:
    return f"{bulk_partition(bulk_id)}#Q#{shard}"


def bulk_queued_keys(bulk_id: int, device_id: int) -> dict:
    """Sparse index entry of a target while its operation is queued: what cancel and abort must cancel."""
    return {"GSI1PK": bulk_queued_pk(bulk_id, bulk_target_shard(device_id)), "GSI1SK": _n(device_id)}


def bulk_audit_keys(organization_id: int | None, bulk_id: int, at: str, entry_id: str) -> dict:
    """An audit entry of a bulk operation (no device): in its organization's trail and fleet-wide, in the shard of
    its id; one over all organizations has a partition of its own."""
    sort, shard = audit_sort_value(at, entry_id), _shard(bulk_id, AUDIT_SHARDS)
    pk = audit_org_pk(organization_id, shard) if organization_id is not None else f"AUDIT#BULK#{_n(bulk_id)}"
    return {"PK": pk, "SK": sort, "GSI2PK": audit_fleet_pk(shard), "GSI2SK": sort}


# --- access patterns ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AccessPattern:
    name: str
    entity: str
    index: str           # "table" or a GSI name
    key_condition: str
    requests: str        # DynamoDB requests per call
    planned: bool = False


ACCESS_PATTERNS: tuple[AccessPattern, ...] = (
    AccessPattern("Get device", "Device", "table", "PK=DEV#<id> SK=DEV", "1 GetItem"),
    AccessPattern("List an organization's devices by id", "Device", "GSI1",
                  "GSI1PK=ORG#<org>#DEVICES#<0..7> GSI1SK>cursor", "1 Query per shard, in parallel, merged by id "
                  "(+1 BatchGetItem count)"),
    AccessPattern("List all devices by id (platform token)", "Device", "GSI2",
                  "GSI2PK=DEVICES#<0..7> GSI2SK>cursor", "1 Query per shard, in parallel, merged by id "
                  "(+1 BatchGetItem count)"),
    AccessPattern("List devices with pending operations", "Device", "GSI3",
                  "GSI3PK=PENDING#<0..7> GSI3SK>cursor (sparse)", "1 Query per shard per page, in parallel "
                  "(+ Select=COUNT per shard)"),
    AccessPattern("Count devices for a filter scope", "Counter", "table",
                  "PK=COUNT#<scope>#<00..15> SK=COUNT", "1 BatchGetItem of the 16 shards, summed"),
    AccessPattern("Create device with unique serial and identifiers", "Device, Guard, Counter, Audit, HealthState",
                  "table", "Put PK=DEV#<id>; Put PK=SERIAL#<sn>, PK=IDENT#<kind>#<v> if not exists; "
                  "ADD one shard of each counter scope; Put audit entry", "1 TransactWriteItems (id from the "
                  "process's block)"),
    AccessPattern("Update, move or delete a device", "Device, Guard, Counter, Audit, HealthState", "table",
                  "Put/Delete PK=DEV#<id> if version = <read>; guards put/deleted; ADD one shard of each counter "
                  "scope entered or left; Put audit entry (+ a copy in the trail of the organization a move "
                  "leaves)", "1 TransactWriteItems (+1 GetItem read; again after a version change, "
                  "up to 12 rounds)"),
    AccessPattern("Find device by serial or identifier", "Guard", "table",
                  "PK=SERIAL#<sn> | PK=IDENT#<kind>#<value>, SK=GUARD", "1 GetItem (+1 for the device)"),
    AccessPattern("Device-owned items for the delete cascade", "Device data", "table",
                  "PK=DEV#<id>", "1 Query per 1 MB + BatchWriteItem per 25"),
    AccessPattern("Claim a block of ids", "Sequence", "table", "PK=SEQ#<entity> SK=SEQ, ADD last_id <block>",
                  "1 UpdateItem per block: 1, 2, 4 ... 64 ids per process"),
    AccessPattern("Claim a writer slot (counter shard)", "Sequence", "table", "PK=SEQ#WRITER SK=SEQ, ADD last_id 1",
                  "1 UpdateItem per process"),
    AccessPattern("Get organization", "Organization", "table", "PK=ORG#<org> SK=ORG", "1 GetItem"),
    AccessPattern("List organizations", "Organization", "GSI2", "GSI2PK=ORGS", "1 Query"),
    AccessPattern("Get device type", "DeviceType", "table", "PK=DTYPE#<id> SK=DTYPE", "1 GetItem"),
    AccessPattern("List device types", "DeviceType", "GSI2", "GSI2PK=DTYPES", "1 Query"),
    AccessPattern("Get firmware image", "FirmwareImage", "table", "PK=FW#<id> SK=FW", "1 GetItem"),
    AccessPattern("List firmware images", "FirmwareImage", "GSI2", "GSI2PK=FIRMWARE", "1 Query"),
    AccessPattern("Authenticate a token", "Token", "table", "PK=TOKEN#<hmac> SK=TOKEN",
                  "1 GetItem, cached up to 60 s"),
    AccessPattern("List tokens (platform)", "Token", "GSI2", "GSI2PK=TOKENS", "1 Query"),
    AccessPattern("List an organization's tokens", "Token", "GSI1", "GSI1PK=ORG#<org>#TOKENS", "1 Query"),
    AccessPattern("Find token by id (revoke)", "Token", "GSI2", "GSI2PK=TOKENS GSI2SK=<id>", "1 Query + 1 UpdateItem"),
    AccessPattern("Count a token's requests this minute", "RateWindow", "table",
                  "PK=RATE#<token>[#<shard>] SK=<window start>", "1 UpdateItem ADD (one shard per 250 requests/s "
                  "the token may send)"),
    AccessPattern("Idempotency record", "Idempotency", "table", "PK=IDEMPOTENCY#<key hash> SK=IDEMPOTENCY",
                  "powertools: 1 PutItem + 1 UpdateItem per first call"),
    AccessPattern("Audit of an organization, newest first", "AuditEntry", "table",
                  "PK=AUDIT#ORG#<org>#<0..3> SK>=<since>", "1 Query per shard per page, in parallel "
                  "(+ Select=COUNT per shard)"),
    AccessPattern("Audit of a device, newest first", "AuditEntry", "GSI1",
                  "GSI1PK=AUDIT#DEV#<id> GSI1SK>=<since>", "1 Query per page (+ Select=COUNT)"),
    AccessPattern("Audit fleet-wide (platform token)", "AuditEntry", "GSI2",
                  "GSI2PK=AUDIT#<0..3> GSI2SK>=<since>", "1 Query per shard per page, in parallel "
                  "(+ Select=COUNT per shard)"),
    AccessPattern("Simulated device behaviour", "SimulatorSettings", "table", "PK=DEV#<id> SK=SIM",
                  "1 GetItem per driver call"),
    AccessPattern("Operations of a device, newest first", "Operation", "table",
                  "PK=DEV#<id> SK begins_with OP#", "1 Query per page"),
    AccessPattern("Get operation", "Operation", "table", "PK=DEV#<id> SK=OP#<op>", "1 GetItem"),
    AccessPattern("Unfinished operations past their deadline", "Operation", "GSI3",
                  "GSI3PK=OPEN_OPS#<device % 16> GSI3SK<=<now>", "1 Query per shard and page, 16 in parallel"),
    AccessPattern("Operations no agent has picked up, due to be sent again", "Operation", "GSI2",
                  "GSI2PK=OUTBOX#<device % 16> GSI2SK<=<now>", "1 Query per shard and page, 16 in parallel "
                  "(+1 SendMessageBatch per 10, 1 UpdateItem per operation sent again)"),
    AccessPattern("Create a bulk operation", "BulkOperation, BulkDeviceIds, BulkPacer, Sequence, AuditEntry", "table",
                  "Put PK=BULK#<id> SK=BULK, SK=BULK#PACER, SK=IDS#<n>; SET SEQ#BULK; Put audit",
                  "1 TransactWriteItems (+1 BatchGetItem per 100 device ids, +1 per 100 type counters)"),
    AccessPattern("Get a bulk operation", "BulkOperation, BulkPacer, BulkDeviceIds, BulkProgress", "table",
                  "PK=BULK#<id> (every item); PK=BULK#<id>#P#<0..3> SK=PROGRESS",
                  "1 Query + 1 BatchGetItem"),
    AccessPattern("List an organization's bulk operations, newest first", "BulkOperation", "GSI1",
                  "GSI1PK=ORG#<org>#BULKS GSI1SK<cursor (<created>#<id>)",
                  "1 Query + 1 BatchGetItem (pacers, progress, ids)"),
    AccessPattern("List all bulk operations (platform token)", "BulkOperation", "GSI2",
                  "GSI2PK=BULKS GSI2SK<cursor (<created>#<id>)", "1 Query + 1 BatchGetItem (pacers, progress, ids)"),
    AccessPattern("Bulk operations the background still works on", "BulkOperation", "GSI3",
                  "GSI3PK=BULKS_ACTIVE", "1 Query per minute (revival schedule)"),
    AccessPattern("Bulk operation and its pacer, for a round or slice", "BulkOperation, BulkPacer", "table",
                  "PK=BULK#<id> SK begins_with BULK", "1 Query (consistent) per slice"),
    AccessPattern("Write a bulk operation's targets", "BulkTarget", "table",
                  "Put PK=BULK#<id>#T#<device % 4> SK=<device>", "1 BatchWriteItem per 25 devices"),
    AccessPattern("A bulk operation's devices by id", "BulkTarget", "table",
                  "PK=BULK#<id>#T#<0..3> SK>cursor (state: FilterExpression)",
                  "1 Query per shard and page (4 merged); the pacer's turn: 1 Query per shard it takes from"),
    AccessPattern("A bulk operation's queued devices", "BulkTarget", "GSI1",
                  "GSI1PK=BULK#<id>#Q#<0..3> (sparse)", "1 Query per shard when closing"),
    AccessPattern("Bulk operation progress", "BulkProgress", "table",
                  "PK=BULK#<id>#P#<0..3> SK=PROGRESS", "1 UpdateItem ADD per settle; 1 BatchGetItem to read"),
    AccessPattern("Audit of a bulk operation over all organizations", "AuditEntry", "table",
                  "PK=AUDIT#BULK#<id> SK>=<since>", "1 Put per state change (also in AUDIT#ORG#<org> and GSI2 AUDIT)"),
    AccessPattern("Diagnostics of a device, newest first", "DiagnosticEntry", "table",
                  "PK=DEV#<id> SK between DIAG# and <cursor>", "1 Query per page (diagnostic_type/status: "
                  "FilterExpression, more Queries when selective)"),
    AccessPattern("Diagnostics of an organization, newest first", "DiagnosticEntry", "GSI1",
                  "GSI1PK=ORG#<org>#DIAGS#<0..3> GSI1SK<cursor", "1 Query per shard per page, in parallel "
                  "(filters as above)"),
    AccessPattern("Diagnostics fleet-wide (platform token)", "DiagnosticEntry", "GSI2",
                  "GSI2PK=DIAGS#<0..3> GSI2SK<cursor", "1 Query per shard per page, in parallel (filters as above)"),
    AccessPattern("Count diagnostics for a filter", "HealthState, Counter", "table",
                  "PK=DEV#<id> SK=HEALTH | PK=COUNT#DIAGS#ORG#<org>#<00..15> | PK=COUNT#DIAGS#ALL#<00..15>, SK=COUNT",
                  "1 GetItem | 1 BatchGetItem of the 16 shards"),
    AccessPattern("Record a diagnostic entry", "DiagnosticEntry, HealthState, Counter", "table",
                  "ConditionCheck PK=DEV#<id> SK=DEV; Put PK=DEV#<id> SK=DIAG#<at>#<id>; Update SK=HEALTH; "
                  "ADD one shard of COUNT#DIAGS#ORG#<org> and of COUNT#DIAGS#ALL",
                  "1 TransactWriteItems"),
    AccessPattern("Devices due for a health check", "HealthState", "GSI3",
                  "GSI3PK=DUE#<0..3> GSI3SK<=<now>#~", "1 Query per shard per batch of 25, in parallel"),
    AccessPattern("Connection history page", "ConnectionEvent", "table",
                  "PK=DEV#<id>#CONN SK between <earliest># and <latest>#~", "1 Query, Limit = page + 1 "
                  "(+ 1 GetItem by id, 2 by identifier; + 1 PutItem, 1 UpdateItem: the 60-s repeat record)"),
    AccessPattern("Telemetry de-duplication", "EventGuard", "table",
                  "PK=EVT#<org>#<KIND>#<event_id> SK=GUARD", "1 BatchGetItem per 100 records; "
                  "new guards: 1 BatchWriteItem per 25"),
    AccessPattern("Resolve the devices of an ingest batch", "Guard, Device", "table",
                  "PK=SERIAL#<sn> | PK=IDENT#<kind>#<value>; then PK=DEV#<id> SK=DEV",
                  "1 BatchGetItem per 100 distinct identifiers + 1 per 100 devices"),
    AccessPattern("Store telemetry records", "ConnectionEvent, AppSession, UsageRecord", "table",
                  "PK=DEV#<id>#CONN|APP|USE SK=<at>#<event_id>", "1 BatchWriteItem per 25 records"),
    AccessPattern("Rollup lane state", "LaneState", "table",
                  "PK=ROLLUP#LANES SK=<lane> (Query: every lane)",
                  "1 GetItem + 2 UpdateItem per unit (commit, done); summary: in its 1 BatchGetItem"),
    AccessPattern("A lane's pending log", "PendingWork", "table", "PK=ROLLUP#LANE#<lane>#PENDING",
                  "1 PutItem per queue batch of the lane; 1 Query per unit, deleted in its journal"),
    AccessPattern("A unit's journal", "Journal", "table", "PK=ROLLUP#LANE#<lane>#JOURNAL SK begins_with <seq>#",
                  "1 BatchWriteItem per 25 pages of 90 KB; read back (1 Query) only after a crash"),
    AccessPattern("Devices due at a tick", "WakeEntry", "table", "PK=ROLLUP#LANE#<lane>#WAKE SK<=<T>#~",
                  "1 Query per unit (up to 1,500 devices)"),
    AccessPattern("Devices changed since the last rollup", "AuditEntry, Device", "GSI2",
                  "GSI2PK=AUDIT#<0..3> GSI2SK between <watermark> and <now - settle> (first runs: "
                  "GSI2PK=DEVICES#<0..7> GSI2SK > <cursor>)",
                  "1 Query per shard and 1 MB per scheduled run; first runs 100,000 devices a run"),
    AccessPattern("Raw records of the hours a unit touches", "ConnectionEvent, AppSession, UsageRecord", "table",
                  "PK=DEV#<id>#CONN|APP|USE SK between <first hour> and <end of last hour>",
                  "1 Query per device, kind and run of touched hours less than 6 h apart"),
    AccessPattern("A unit's device-level reads", "DeviceHour, DeviceDay, DeviceMonth, DeviceIp, AppBucket, "
                  "SummaryRow, Device", "table", "PK=DEV#<id>#AGG SK=<key>; PK=DEV#<id> SK=DEV",
                  "1 BatchGetItem per 100 keys (+1 Query per hour or day with its addresses spilled)"),
    AccessPattern("Write a unit's journal", "DeviceHour, DeviceDay, DeviceMonth, DeviceIp, AppBucket, SummaryRow, "
                  "SummaryIndex, SubscriberEntry, WakeEntry, PendingWork", "table", "Put/Delete by key",
                  "1 BatchWriteItem per 25 changed items"),
    AccessPattern("Add a lane's share to an organization item", "OrganizationDay, IpEntry",
                  "table", "UpdateItem ADD ... SET g<lane> = :seq if g<lane> < :seq",
                  "1 UpdateItem per item a unit changes"),
    AccessPattern("A device's app-session buckets", "AppBucket", "table",
                  "PK=DEV#<id>#AGG SK between APP#H#<day> and APP#H#<next day>",
                  "1 Query per touched device-day (its day bucket is summed from its hours)"),
    AccessPattern("A lane's summary items", "Summary", "table",
                  "PK=SUMMARY#<scope>#<window>#T#<type or *>#C#<category or *> SK=<lane>",
                  "1 BatchGetItem per 100 items a unit changes, rewritten in its journal"),
    AccessPattern("Connection summary figures", "LaneState, Summary", "table",
                  "PK=ROLLUP#LANES (every lane); PK=SUMMARY#<scope>#<window>#T#<type or *>#C#<category or *> (every "
                  "lane's)", "3 Query (lanes; the category's; its `*` sibling's)"),
    AccessPattern("Connection summary page", "SummaryIndex", "table",
                  "PK=SIDX#<scope>#<window> SK>cursor", "1 Query"),
    AccessPattern("Connection summary page by device type", "SummaryIndex", "GSI1",
                  "GSI1PK=SIDX#<scope>#<window>#T#<type> GSI1SK>cursor", "1 Query"),
    AccessPattern("Connection summary page by status", "SummaryIndex", "GSI2",
                  "GSI2PK=SIDX#<scope>#<window>#S#<status> GSI2SK>cursor", "1 Query"),
    AccessPattern("Connection summary page by device type and status", "SummaryIndex", "GSI3",
                  "GSI3PK=SIDX#<scope>#<window>#T#<type>#S#<status> GSI3SK>cursor", "1 Query"),
    AccessPattern("Connection summary page, app_category with a status", "SummaryIndex", "table",
                  "PK=SIDX#<scope>#<window> (GSI1 with a type) SK>cursor, FilterExpression contains(active_in | "
                  "failed_in, <category>) (inactive: neither)",
                  "1 Query per 100 entries read: (limit + 1) / share of the scope with that status in it"),
    AccessPattern("Connection summary rows of a page", "SummaryRow", "table", "PK=DEV#<id>#AGG SK=SUMROW",
                  "1 BatchGetItem per 100 rows"),
    AccessPattern("Analytics totals of an organization over a range", "OrganizationDay", "table",
                  "PK=AGG#ORG#<org>#DAY SK between <first day> and <last day>",
                  "1 Query per 1 MB: 366 days in 1 or 2 (platform token: 1 Query of organizations + that per "
                  "organization)"),
    AccessPattern("Analytics map of an organization over a range", "SubscriberEntry, IpEntry", "table",
                  "PK=AGG#ORG#<org>#SUB|IP#<D|M>#<shard> SK between <first period># and <last period>#~",
                  "1 Query per shard (8) and run of days or months (at most 5 runs), in parallel"),
    AccessPattern("Analytics of a subscriber over a range", "DeviceDay, DeviceHour, DeviceIp", "table",
                  "PK=DEV#<id>#AGG SK between D#<first day> and D#<last day>~ (by IP: H# items of the hours at the "
                  "ends, D# items of the rest)", "1 GetItem identifier guard + 1 GetItem device + 1 Query per 1 MB "
                  "(by IP: at most 5; + 1 per hour or day with its addresses spilled)"),
)


def access_pattern_table() -> str:
    """The Markdown table of docs/data-model.md, generated from ACCESS_PATTERNS."""
    rows = ["| Access pattern | Entity | Index | Key condition | Requests per call | Status |",
            "| --- | --- | --- | --- | --- | --- |"]
    for p in ACCESS_PATTERNS:
        rows.append(f"| {p.name} | {p.entity} | {p.index} | `{p.key_condition}` | {p.requests} | "
                    f"{'planned' if p.planned else 'live'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(access_pattern_table())
