"""The simulated driver's settings at the API (PUT/GET /admin/simulator/{id}/, API.md §9).

Kept apart from the driver so that the driver reads its table item and nothing else: only these admin
use cases need the device service (visibility) and the token model.
"""
import json
from decimal import Decimal

from chalicelib import devices
from chalicelib.config import get_settings
from chalicelib.drivers.simulator import SimulatorBehaviour, read_behaviour
from chalicelib.errors import NotFound
from chalicelib.store import dynamo, schema
from chalicelib.tokens.models import Principal


def set_behaviour(principal: Principal, device_id: int, behaviour: SimulatorBehaviour) -> dict:
    """Replace how the simulated device behaves.

    Raises:
        NotFound: SIMULATOR_DISABLED (another driver is in use), or DEVICE_NOT_FOUND.
        Forbidden: the token lacks admin.
    """
    _require_simulator(principal)
    devices.service.get_visible(principal, device_id)
    stored = behaviour.model_dump()
    item = {**schema.simulator_key(device_id), "entity": "SimulatorSettings", "device_id": device_id,
            # DynamoDB takes no floats (forced diagnostic figures).
            **json.loads(json.dumps(stored), parse_float=Decimal)}
    # Conditional on the device still existing, so a delete racing this PUT leaves no orphan behind.
    device_exists = {"ConditionCheck": {"Key": schema.device_key(device_id),
                                        "ConditionExpression": "attribute_exists(PK)"}}
    try:
        dynamo.transact([device_exists, {"Put": {"Item": item}}])
    except dynamo.Cancelled as cancelled:
        raise NotFound(f"No device with id {device_id}.", code="DEVICE_NOT_FOUND") from cancelled
    return {"device_id": device_id, **stored}


def get_behaviour(principal: Principal, device_id: int) -> dict:
    """How the simulated device behaves now (the defaults when never set).

    Raises:
        NotFound: SIMULATOR_DISABLED (another driver is in use), or DEVICE_NOT_FOUND.
        Forbidden: the token lacks admin.
    """
    _require_simulator(principal)
    devices.service.get_visible(principal, device_id)
    return {"device_id": device_id, **read_behaviour(device_id).model_dump()}


def require_enabled() -> None:
    """The admin route exists only while the simulated driver is in use: otherwise a 404 whatever
    the body (the route calls this before parsing it; the /admin/ middleware has already required
    a token with admin).

    Raises:
        NotFound: SIMULATOR_DISABLED.
    """
    if get_settings().device_driver != "simulated":
        raise NotFound("The device simulator is not in use (DEVICE_DRIVER is not 'simulated').",
                       code="SIMULATOR_DISABLED")


def _require_simulator(principal: Principal) -> None:
    require_enabled()
    principal.require("admin")
