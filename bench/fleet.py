"""The fleet the bench measures: organizations, device types, tokens, and devices seeded in bulk."""
import functools
import itertools
import json
import re
import zlib
from unittest.mock import patch

from chalicelib import aws
from chalicelib.device_types import service as device_types
from chalicelib.device_types.models import DeviceTypeCreate
from chalicelib.devices import service as devices
from chalicelib.devices.models import DeviceCreate
from chalicelib.observability import metrics
from chalicelib.organizations import service as organizations
from chalicelib.organizations.models import OrganizationCreate
from chalicelib.store import dynamo
from chalicelib.tokens import service as tokens
from chalicelib.tokens.models import PERMISSIONS, TokenCreate

ORGANIZATIONS = 4
DEVICE_TYPES = 3


class BulkWriter:
    """Stands in for dynamo.transact while seeding: the items the create use case builds, written in bulk.

    Puts are sent 25 per BatchWriteItem; Updates are merged per key (ADD values summed, the rest last
    wins, conditions dropped: seeding has no competing writer) and sent once each; ConditionChecks are
    dropped for the same reason. One transaction
    per create costs about 45 ms in moto, mostly parsing the counter updates: minutes for 5,000.
    """

    def __init__(self):
        self.puts: list[dict] = []
        self.updates: dict[str, dict] = {}

    def transact(self, actions: list[dict]) -> None:
        for action in actions:
            [(kind, body)] = action.items()
            if kind == "Put":
                self.puts.append(body["Item"])
            elif kind == "Update":
                self._merge(body)
            elif kind == "ConditionCheck":
                continue   # what a create checks (its organization) the bench has just made
            else:
                raise NotImplementedError(f"seeding cannot batch a {kind}")

    def _merge(self, update: dict) -> None:
        key = json.dumps(update["Key"], sort_keys=True)
        expression = update["UpdateExpression"]
        values = {name: value for name, value in update.get("ExpressionAttributeValues", {}).items()
                  if re.search(rf"{name}\b", expression)}
        previous = self.updates.get(key)
        if previous:
            for name in re.findall(r"ADD\s+\S+\s+(:\w+)", expression):
                values[name] += previous["ExpressionAttributeValues"][name]
        self.updates[key] = {"Key": update["Key"], "UpdateExpression": expression,
                             "ExpressionAttributeNames": update.get("ExpressionAttributeNames"),
                             "ExpressionAttributeValues": values}

    def flush(self) -> None:
        client, table = aws.dynamodb(), dynamo.table_name()
        for start in range(0, len(self.puts), 25):
            batch = [{"PutRequest": {"Item": item}} for item in self.puts[start:start + 25]]
            client.batch_write_item(RequestItems={table: batch})
        for update in self.updates.values():
            client.update_item(TableName=table, **{k: v for k, v in update.items() if v})


class Fleet:
    """Devices spread over organizations (org i % 4), types (i % 3) and status (Up for half of them, by a hash of i:
    not by its parity, which would put every Up device in the odd shards of the device index, id % 8)."""

    def __init__(self):
        self.platform = tokens.create_token(None, TokenCreate(
            name="bench-platform", permissions=list(PERMISSIONS), rate_limit_per_minute=100_000))["token"]
        self.admin = tokens.authenticate(self.platform)
        self.organizations = [organizations.create_organization(
            self.admin, OrganizationCreate(name=f"bench-org-{i}"))["id"] for i in range(ORGANIZATIONS)]
        self.types = [device_types.create_device_type(self.admin, DeviceTypeCreate(
            short_name=f"bench_type_{i}", name="Router", category="router", manufacturer="Zequenze Systems",
            product_class="RT5500"))["id"] for i in range(DEVICE_TYPES)]
        self.org_token = tokens.create_token(None, TokenCreate(
            name="bench-org", organization_id=self.organizations[0], permissions=["devices:read", "devices:write"],
            rate_limit_per_minute=100_000))["token"]
        self.bodies: dict[int, dict] = {}  # seeded device id -> its current writable fields
        self.created: list[int] = []       # devices made by the measured creates, deleted by DELETE
        self._numbers = itertools.count(1)

    def fresh(self, prefix: str) -> str:
        """A value no device has had yet (a PATCH that changes nothing writes nothing)."""
        return f"{prefix}{next(self._numbers):07d}"

    def body(self, **overrides) -> dict:
        n = next(self._numbers)
        return {"name": f"bench-{n}", "serial_number": f"BENCH{n:07d}", "type": self.types[n % DEVICE_TYPES],
                "organization_id": self.organizations[n % ORGANIZATIONS],
                "status": "Up" if zlib.crc32(b"%d" % n) % 2 else "Down", **overrides}

    @property
    def size(self) -> int:
        return len(self.bodies) + len(self.created)

    def grow(self, size: int) -> None:
        """Seed devices through the create use case until the fleet has `size`, their writes in bulk.

        The organization and the type a create validates are read once, not once per device.
        """
        writer = BulkWriter()
        reads = functools.cache(lambda key, read=dynamo.get: read(dict(key)))
        with (patch.object(dynamo, "transact", writer.transact),
              patch.object(dynamo, "get", lambda key, consistent=False: reads(tuple(key.items())))):
            while self.size < size:
                body = self.body()
                view, _ = devices.create_device(self.admin, DeviceCreate.model_validate(body))
                metrics.clear_metrics()
                self.bodies[view["id"]] = body
        writer.flush()

    def pick(self, i: int) -> int:
        """The i-th seeded device of a spread over the fleet (deterministic)."""
        ids = list(self.bodies)
        return ids[(i * 37) % len(ids)]
