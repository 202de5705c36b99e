"""Bulk operation use cases at the API (API.md §11): create (or dry-run), read, list, the devices, pause,
resume, cancel. The work itself happens in the background (worker.py); a request only records and asks."""
from chalicelib import clock
from chalicelib.bulk import db, expansion, progress, queue, targets
from chalicelib.bulk.models import FINAL, BulkOperationCreate, Target
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_problem
from chalicelib.observability import BULK_OPERATIONS_CREATED, metrics
from chalicelib.store import dynamo, schema
from chalicelib.tokens.models import Principal

# Listed device ids a 422 names at most.
NAMED = 10
# The public bulk operation, in API.md §11's order.
VIEW_FIELDS = ("id", "operation", "parameters", "target", "rollout", "abort", "state", "target_count", "progress",
               "current_rate_per_minute", "abort_reason", "requested_by", "created", "started", "finished")


def create_bulk_operation(principal: Principal, body: BulkOperationCreate) -> tuple[int, dict]:
    """Record a bulk operation and ask the background to start it (202), or count its target (dry run, 200).

    Raises:
        Forbidden: no devices:operate; a target outside the token's organization.
        ValidationFailed: an unknown organization, device type or firmware image; listed devices that do not
            exist or are not the token's; a firmware image that does not fit a targeted type; an empty target.
    """
    principal.require("devices:operate")
    target = body.target
    organization_id = _scope(principal, target)
    _check_references(organization_id, target)
    devices = _listed_devices(principal, organization_id, target.device_ids)
    described = target.described() | ({"organization_id": organization_id} if organization_id is not None else {})
    source = expansion.Source.of(described, organization_id, target.device_ids)
    if body.operation == "firmware_update":
        _check_firmware(int(body.parameters["firmware_image"]), source, devices)
    if body.dry_run:
        count, first, complete = expansion.count(source)
        return 200, {"dry_run": True, "operation": body.operation, "parameters": body.parameters,
                     "target": _shown_target(described, target.device_ids), "target_count": count,
                     "target_count_complete": complete, "device_ids": first}
    estimate = _counted(source, devices)
    now = clock.now()
    record = {"organization_id": organization_id, "operation": body.operation, "parameters": body.parameters,
              "target": described, "rollout": body.rollout.model_dump(),
              "abort": body.abort.model_dump() if body.abort else None, "estimated_target_count": estimate}
    bulk_id = db.create(record, target.device_ids, principal.actor(), now)
    queue.send_round(bulk_id, 0)   # if SQS refuses, the revival schedule sends it
    metrics.add_metric(name=BULK_OPERATIONS_CREATED, unit="Count", value=1)
    return 202, get_bulk_operation(principal, bulk_id, consistent=True)


def get_bulk_operation(principal: Principal, bulk_id: int, consistent: bool = False) -> dict:
    """The bulk operation (`consistent`: as just written, right after a change). Raises: NotFound for an unknown
    bulk operation or another organization's."""
    bulk, pacer, ids = db.read(bulk_id, with_device_ids=True, consistent=consistent)
    _visible(principal, bulk, bulk_id)
    return view(bulk, pacer, db.read_progress(bulk_id), ids)


def list_bulk_operations(principal: Principal, state: str | None, limit: int, offset: int,
                         after: str | None) -> tuple[list[dict], bool, int, str | None]:
    """The token's organization's bulk operations (every one for a platform token), newest first."""
    principal.require("devices:read")
    items, more, count = db.list_page(principal.organization_id, state, limit, offset, after)
    pacers, ids, counts = db.companions(items)
    views = [view(i, pacers.get(int(i["id"])), counts.get(int(i["id"]), {}), ids.get(int(i["id"]))) for i in items]
    return views, more, count, schema.bulk_sort_value(items[-1]["created"], int(items[-1]["id"])) if items else None


def list_devices(principal: Principal, bulk_id: int, state: str | None, limit: int, offset: int,
                 after: str | None) -> tuple[list[dict], bool, int, str | None]:
    """A bulk operation's devices by id, each with its operation and state there."""
    principal.require("devices:read")
    bulk, pacer, _ = db.read(bulk_id)
    _visible(principal, bulk, bulk_id)
    final = bulk["state"] in FINAL
    figures = progress.view(bulk, pacer, db.read_progress(bulk_id))
    if state is None:
        states, count = None, sum(figures.values())
    elif final and state == "pending":
        return [], False, 0, None   # a final bulk operation reaches no more devices
    else:
        # Never reached by a final bulk operation: shown (and found) as cancelled.
        states, count = ((state, "pending") if final and state == "cancelled" else (state,)), figures[state]
    items, more = targets.page(bulk_id, states, limit, offset, after)
    results = [{"device_id": int(i["device_id"]), "operation_id": dynamo.plain(i.get("operation_id")),
                "state": "cancelled" if final and i["state"] == "pending" else i["state"],
                "error": dynamo.plain(i.get("error"))} for i in items]
    return results, more, count, items[-1]["SK"] if items else None


def pause(principal: Principal, bulk_id: int) -> dict:
    """Stop dispatching (within a slice, 5 s); what is queued still runs. Raises: NotFound; Conflict."""
    return _change(principal, bulk_id, ("scheduled", "in_progress"), lambda bulk: "paused", "bulk_operation_paused")


def resume(principal: Principal, bulk_id: int) -> dict:
    """Dispatch again at the current rate. Raises: NotFound; Conflict unless paused."""
    return _change(principal, bulk_id, ("paused",),
                   lambda bulk: "in_progress" if bulk.get("expanded") else "scheduled", "bulk_operation_resumed")


def cancel(principal: Principal, bulk_id: int) -> dict:
    """Queue nothing more and cancel what is queued (in the background, at once). Raises: NotFound; Conflict."""
    return _change(principal, bulk_id, ("scheduled", "in_progress", "paused"), lambda bulk: "cancelled",
                   "bulk_operation_cancelled", finished=True)


def _change(principal: Principal, bulk_id: int, leaving: tuple[str, ...], to, action: str,
            finished: bool = False) -> dict:
    principal.require("devices:operate")
    bulk, pacer, _ = db.read(bulk_id, consistent=True)
    _visible(principal, bulk, bulk_id)
    now = clock.now()
    extra = {"finished": clock.iso(now), "ended_by": principal.actor()} if finished else {}
    try:
        db.change_state(bulk, leaving, to(bulk), action, principal.actor(), now, **extra)
    except db.StateConflict:
        current, _, _ = db.read(bulk_id, consistent=True)
        raise Conflict(f"Bulk operation {bulk_id} is {current['state']}; it cannot be "
                       f"{action.removeprefix('bulk_operation_')} from there.",
                       code="BULK_OPERATION_STATE_CONFLICT") from None
    if action != "bulk_operation_paused":
        queue.send_round(bulk_id, int(pacer["round"]))
    return get_bulk_operation(principal, bulk_id, consistent=True)


def view(bulk: dict, pacer: dict | None, counts: dict, device_ids: list[int] | None) -> dict:
    """The public bulk operation."""
    stored = {name: dynamo.plain(bulk.get(name)) for name in db.BULK_FIELDS}
    rate = int(pacer.get("rate") or 0) if pacer is not None and bulk["state"] == "in_progress" else 0
    computed = {"target": _shown_target(stored["target"], device_ids),
                "target_count": progress.target_count(bulk, pacer), "progress": progress.view(bulk, pacer, counts),
                "current_rate_per_minute": rate}
    return {name: computed[name] if name in computed else stored[name] for name in VIEW_FIELDS}


def _shown_target(described: dict, device_ids: list[int] | None) -> dict:
    return described | ({"device_ids": device_ids} if device_ids else {})


def _visible(principal: Principal, bulk: dict | None, bulk_id: int) -> None:
    organization = bulk.get("organization_id") if bulk else None
    mine = principal.is_platform or (organization is not None and principal.can_see(int(organization)))
    if bulk is None or not mine:
        raise NotFound(f"No bulk operation with id {bulk_id}.", code="BULK_OPERATION_NOT_FOUND")


def _scope(principal: Principal, target: Target) -> int | None:
    """The organization the target lies in; None for every organization (a platform token that says so)."""
    if not principal.is_platform:
        if target.all_organizations or target.organization_id not in (None, principal.organization_id):
            raise Forbidden("This token may only target its own organization.", code="ORGANIZATION_FORBIDDEN",
                            details=[field_problem("target.organization_id", "outside this token's organization")])
        return principal.organization_id
    if target.all_organizations:
        return None
    if target.organization_id is None:
        raise ValidationFailed("A platform token must name the target's organization.", details=[field_problem(
            "target.organization_id", "required for a platform token, unless all_organizations is true")])
    return target.organization_id


def _check_references(organization_id: int | None, target: Target) -> None:
    from chalicelib.device_types import db as device_types_db
    from chalicelib.firmware import db as firmware_db
    from chalicelib.organizations import db as organizations_db

    problems = []
    if organization_id is not None and organizations_db.get(organization_id) is None:
        problems.append(field_problem("target.organization_id", f"no organization {organization_id}"))
    problems += [field_problem(f"target.type.{i}", f"no device type {t}") for i, t in enumerate(target.type or ())
                 if device_types_db.get_cached(t) is None]
    if target.firmware_image is not None and firmware_db.get(target.firmware_image) is None:
        problems.append(field_problem("target.firmware_image", f"no firmware image {target.firmware_image}"))
    if problems:
        raise ValidationFailed("The target names what does not exist.", details=problems)


def _listed_devices(principal: Principal, organization_id: int | None, device_ids: list[int] | None) -> list[dict]:
    """The listed devices (BatchGetItem, 100 a request); 422 naming those that are unknown or not the token's."""
    if not device_ids:
        return []
    found = {int(d["id"]): d for d in dynamo.batch_get([schema.device_key(i) for i in device_ids])}
    missing = [i for i in dict.fromkeys(device_ids) if i not in found or not principal.can_see(
        int(found[i]["organization_id"])) or organization_id not in (None, int(found[i]["organization_id"]))]
    if missing:
        shown = ", ".join(map(str, missing[:NAMED])) + (f" and {len(missing) - NAMED} more" if len(missing) > NAMED
                                                        else "")
        raise ValidationFailed("The target lists devices that do not exist in its organization.", details=[
            field_problem("target.device_ids", f"no device {shown} in the target's organization")])
    return list(found.values())


def _check_firmware(image_id: int, source: expansion.Source, devices: list[dict]) -> None:
    from chalicelib.firmware import db as firmware_db

    image = firmware_db.get(image_id)
    if image is None:
        raise ValidationFailed("Unknown firmware image.", details=[
            field_problem("parameters.firmware_image", f"no firmware image {image_id}")])
    if devices:
        targeted = {int(d["type"]) for d in devices if source.matches(d)}
    else:
        targeted = set(source.types) if source.types else expansion.present_types(source)
    if unfit := sorted(targeted - set(image.device_types)):
        raise ValidationFailed("The firmware image does not fit every targeted device type.", details=[
            field_problem("parameters.firmware_image", f"image {image_id} is not for device types "
                                                       f"{', '.join(map(str, unfit))}")])


def _counted(source: expansion.Source, devices: list[dict]) -> int | None:
    """The target's devices as the request can count them (listed devices, or the device counters): what
    `target_count` shows until the target is expanded; None when a firmware image filter leaves it open.

    Raises:
        ValidationFailed: EMPTY_TARGET, no device matches (with a firmware image filter: none in its organization,
            types and status, which that filter can only narrow).
    """
    if devices:
        counted = sum(1 for d in devices if source.matches(d))
    else:
        counted = expansion.counted_by_counters(expansion.Source(source.organization_id, source.types, source.status))
    if counted == 0:
        raise ValidationFailed("The target holds no device.", code="EMPTY_TARGET",
                               details=[field_problem("target", "no device matches")])
    return counted if devices or source.firmware_image is None else None
