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

def sequence_key(entity: str) -> dict:
    """Id allocator of an entity (devices, organizations, ...): holds `last_id`."""
    return {"PK": f"SEQ#{entity}", "SK": "SEQ"}


def counter_key(scope: str) -> dict:
    """Device count for one filter scope (see devices.db.count_scopes)."""
    return {"PK": f"COUNT#{scope}", "SK": "COUNT"}


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
    return {"GSI1PK": org_devices_pk(organization_id), "GSI1SK": _n(device_id),
            "GSI2PK": "DEVICES", "GSI2SK": _n(device_id)}


def org_devices_pk(organization_id: int) -> str:
    return f"ORG#{_n(organization_id)}#DEVICES"


def pending_device_keys(device_id: int) -> dict:
    """Sparse index entry, present only while a device has unfinished operations."""
    return {"GSI3PK": "PENDING", "GSI3SK": _n(device_id)}


def device_sort_value(device_id: int) -> str:
    return _n(device_id)


def serial_guard_key(serial_number: str) -> dict:
    # Serial numbers are unique regardless of case: operators type them both ways.
    return {"PK": f"SERIAL#{serial_number.upper()}", "SK": "GUARD"}


def identifier_guard_key(kind: str, value: str) -> dict:
    return {"PK": f"IDENT#{kind}#{value.upper()}", "SK": "GUARD"}


def organization_key(organization_id: int) -> dict:
    return {"PK": f"ORG#{_n(organization_id)}", "SK": "ORG"}


def organization_list_keys(organization_id: int) -> dict:
    return {"GSI2PK": "ORGS", "GSI2SK": _n(organization_id)}


def organization_name_guard_key(name: str) -> dict:
    return {"PK": f"ORGNAME#{name.strip().lower()}", "SK": "GUARD"}


def device_type_key(type_id: int) -> dict:
    return {"PK": f"DTYPE#{_n(type_id)}", "SK": "DTYPE"}


def device_type_list_keys(type_id: int) -> dict:
    return {"GSI2PK": "DTYPES", "GSI2SK": _n(type_id)}


def device_type_name_guard_key(short_name: str) -> dict:
    return {"PK": f"DTYPENAME#{short_name.lower()}", "SK": "GUARD"}


def firmware_key(image_id: int) -> dict:
    return {"PK": f"FW#{_n(image_id)}", "SK": "FW"}


def firmware_list_keys(image_id: int) -> dict:
    return {"GSI2PK": "FIRMWARE", "GSI2SK": _n(image_id)}


def token_key(token_hash: str) -> dict:
    return {"PK": f"TOKEN#{token_hash}", "SK": "TOKEN"}


def token_list_keys(organization_id: int | None, token_id: int) -> dict:
    keys = {"GSI2PK": "TOKENS", "GSI2SK": _n(token_id)}
    if organization_id is not None:
        keys |= {"GSI1PK": org_tokens_pk(organization_id), "GSI1SK": _n(token_id)}
    return keys


def org_tokens_pk(organization_id: int) -> str:
    return f"ORG#{_n(organization_id)}#TOKENS"


def token_sort_value(token_id: int) -> str:
    return _n(token_id)


def rate_window_key(token_id: int, window_start: int) -> dict:
    return {"PK": f"RATE#{_n(token_id)}", "SK": str(window_start)}


IDEMPOTENCY_PK = "IDEMPOTENCY"


def operation_key(device_id: int, operation_id: int) -> dict:
    return {"PK": device_partition(device_id), "SK": f"OP#{_n(operation_id)}"}


def operation_sort_prefix() -> str:
    return "OP#"


def operation_sort_value(operation_id: int) -> str:
    return f"OP#{_n(operation_id)}"


def open_operation_keys(deadline: str, device_id: int, operation_id: int) -> dict:
    """Sparse index entry of an unfinished operation, by deadline, for the time-out sweep."""
    return {"GSI3PK": "OPEN_OPS", "GSI3SK": f"{deadline}#{_n(device_id)}#{_n(operation_id)}"}


def simulator_key(device_id: int) -> dict:
    """How the simulated driver's device behaves (PUT /admin/simulator/{id}/)."""
    return {"PK": device_partition(device_id), "SK": "SIM"}


def audit_keys(organization_id: int, device_id: int, at: str, entry_id: str) -> dict:
    """One audit entry, reachable by organization, by device and fleet-wide, newest first."""
    sort = f"{at}#{entry_id}"
    return {"PK": audit_org_pk(organization_id), "SK": sort,
            "GSI1PK": audit_device_pk(device_id), "GSI1SK": sort,
            "GSI2PK": "AUDIT", "GSI2SK": sort}


def audit_org_pk(organization_id: int) -> str:
    return f"AUDIT#ORG#{_n(organization_id)}"


def audit_device_pk(device_id: int) -> str:
    return f"AUDIT#DEV#{_n(device_id)}"


# --- diagnostics (API.md §4): key builders of chalicelib/diagnostics ------------------------------


# --- telemetry (API.md §5, §6): raw records, de-duplication guards, the rollups' change log --------

# The three record kinds and the suffix of their per-device partition.
TELEMETRY_KINDS: dict[str, str] = {"connection_event": "CONN", "app_session": "APP", "usage": "USE"}
# The change log is spread over this many partitions (by device id) so that no single partition
# takes every ingest write of the fleet.
CHANGE_LOG_SHARDS = 4


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


def change_log_partition(shard: int) -> str:
    return f"CHANGES#{shard}"


def change_log_key(device_id: int, ingested_at: str, hour: str, kind: str, nonce: str) -> dict:
    """One entry per (device, hour of the records, kind) an ingest batch touched, in ingest order.

    The rollups read each shard from their watermark on and recompute only the buckets named here.
    """
    shard = int(device_id) % CHANGE_LOG_SHARDS
    return {"PK": change_log_partition(shard),
            "SK": f"{ingested_at}#{_n(device_id)}#{hour}#{TELEMETRY_KINDS[kind]}#{nonce}"}


# --- rollups and their aggregates (API.md §7, §8): key builders of chalicelib/rollups --------------

def device_hour_key(device_id: int, hour: str) -> dict:
    """A device's figures for one hour (`hour` = clock.iso of its start), written by the rollups.

    Attributes read by chalicelib/analytics: organization_id, device_id, hour, sessions (connection
    Start events), mo_bytes, mt_bytes, protocols {protocol: bytes}, ips {ip: {"bytes", "last_seen"}},
    computed_at. Only hours that hold records have an item.
    """
    return {"PK": f"{device_partition(device_id)}#AGG", "SK": f"H#{hour}"}


def organization_hour_key(organization_id: int, hour: str) -> dict:
    """An organization's figures for one hour: the device-hour attributes summed, plus
    subscribers {physical_id: {"bytes", "last_seen"}}. Only hours that hold records have an item."""
    return {"PK": f"AGG#ORG#{_n(organization_id)}#HOUR", "SK": hour}


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
                  "GSI1PK=ORG#<org>#DEVICES GSI1SK>cursor", "1 Query (+1 GetItem count)"),
    AccessPattern("List all devices by id (platform token)", "Device", "GSI2",
                  "GSI2PK=DEVICES GSI2SK>cursor", "1 Query (+1 GetItem count)"),
    AccessPattern("List devices with pending operations", "Device", "GSI3",
                  "GSI3PK=PENDING GSI3SK>cursor (sparse)", "1 Query per page"),
    AccessPattern("Count devices for a filter scope", "Counter", "table",
                  "PK=COUNT#<scope> SK=COUNT", "1 GetItem"),
    AccessPattern("Create device with unique serial and identifiers", "Device, Guard, Counter, Sequence, Audit",
                  "table", "Put PK=DEV#<id>; Put PK=SERIAL#<sn>, PK=IDENT#<kind>#<v> if not exists; "
                  "ADD counters; SET SEQ#DEVICE", "1 TransactWriteItems"),
    AccessPattern("Find device by serial or identifier", "Guard", "table",
                  "PK=SERIAL#<sn> | PK=IDENT#<kind>#<value>, SK=GUARD", "1 GetItem (+1 for the device)"),
    AccessPattern("Device-owned items for the delete cascade", "Device data", "table",
                  "PK=DEV#<id>", "1 Query per 1 MB + BatchWriteItem per 25"),
    AccessPattern("Allocate next id", "Sequence", "table", "PK=SEQ#<entity> SK=SEQ",
                  "inside the create transaction"),
    AccessPattern("Get organization", "Organization", "table", "PK=ORG#<org> SK=ORG", "1 GetItem"),
    AccessPattern("List organizations", "Organization", "GSI2", "GSI2PK=ORGS", "1 Query"),
    AccessPattern("Get device type", "DeviceType", "table", "PK=DTYPE#<id> SK=DTYPE", "1 GetItem"),
    AccessPattern("List device types", "DeviceType", "GSI2", "GSI2PK=DTYPES", "1 Query"),
    AccessPattern("Get firmware image", "FirmwareImage", "table", "PK=FW#<id> SK=FW", "1 GetItem"),
    AccessPattern("List firmware images", "FirmwareImage", "GSI2", "GSI2PK=FIRMWARE", "1 Query"),
    AccessPattern("Authenticate a token", "Token", "table", "PK=TOKEN#<sha256> SK=TOKEN",
                  "1 GetItem, cached up to 60 s"),
    AccessPattern("List tokens (platform)", "Token", "GSI2", "GSI2PK=TOKENS", "1 Query"),
    AccessPattern("List an organization's tokens", "Token", "GSI1", "GSI1PK=ORG#<org>#TOKENS", "1 Query"),
    AccessPattern("Find token by id (revoke)", "Token", "GSI2", "GSI2PK=TOKENS GSI2SK=<id>", "1 Query + 1 UpdateItem"),
    AccessPattern("Count a token's requests this minute", "RateWindow", "table",
                  "PK=RATE#<token> SK=<window start>", "1 UpdateItem ADD"),
    AccessPattern("Idempotency record", "Idempotency", "table", "PK=IDEMPOTENCY SK=<hash>",
                  "powertools: 1 PutItem + 1 UpdateItem per first call"),
    AccessPattern("Audit of an organization, newest first", "AuditEntry", "table",
                  "PK=AUDIT#ORG#<org> SK>=<since>", "1 Query per page"),
    AccessPattern("Audit of a device, newest first", "AuditEntry", "GSI1",
                  "GSI1PK=AUDIT#DEV#<id> GSI1SK>=<since>", "1 Query per page"),
    AccessPattern("Audit fleet-wide (platform token)", "AuditEntry", "GSI2",
                  "GSI2PK=AUDIT GSI2SK>=<since>", "1 Query per page"),
    AccessPattern("Simulated device behaviour", "SimulatorSettings", "table", "PK=DEV#<id> SK=SIM",
                  "1 GetItem per driver call"),
    AccessPattern("Operations of a device, newest first", "Operation", "table",
                  "PK=DEV#<id> SK begins_with OP#", "1 Query per page"),
    AccessPattern("Get operation", "Operation", "table", "PK=DEV#<id> SK=OP#<op>", "1 GetItem"),
    AccessPattern("Unfinished operations past their deadline", "Operation", "GSI3",
                  "GSI3PK=OPEN_OPS GSI3SK<=<now>", "1 Query per sweep"),
    AccessPattern("Diagnostics of a device, newest first", "DiagnosticEntry", "table",
                  "PK=DEV#<id> begins_with(SK, DIAG#)", "1 Query", planned=True),
    AccessPattern("Devices due for a health check", "Device", "GSI3",
                  "GSI3PK=DUE#<hour> GSI3SK<=now", "1 Query per batch", planned=True),
    AccessPattern("Connection history page", "ConnectionEvent", "table",
                  "PK=DEV#<id>#CONN SK between <earliest> and <latest>", "1 Query", planned=True),
    AccessPattern("Telemetry de-duplication", "EventGuard", "table",
                  "PK=EVT#<kind>#<event_id> if not exists", "in the ingest batch", planned=True),
    AccessPattern("Rollup watermark and change log", "RollupState", "table",
                  "PK=ROLLUP#STATE, PK=CHANGES#<bucket>", "1 Query per run", planned=True),
    AccessPattern("Summary / analytics aggregates", "Aggregate", "table",
                  "PK=AGG#ORG#<org>#<window> | PK=AGG#DEV#<id>#HOUR SK between hours", "bounded Query",
                  planned=True),
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
