"""Analytics use cases (API.md §8): company figures from the organization's hour items, subscriber figures from
the device's. Figures are the rollups' precomputed aggregates; nothing here reads a telemetry record.
"""
from urllib.parse import unquote

from chalicelib.analytics import db, responses
from chalicelib.analytics.models import AnalyticsQuery, SubscriberQuery
from chalicelib.errors import NotFound
from chalicelib.tokens.models import Principal

OVERVIEW = "analytics:overview"
SUBSCRIBER = "analytics:subscriber"
# The seed's physicalId: ICCID (cellular), EUI (non-IP), IMEI (satellite); their formats do not overlap, so at most
# one of them passes validation and is looked up. Then the serial number: the rollups key a device that has none
# of the three by it (rollups.figures.physical_id), and every key data-usage-by-subscriber lists must lead here.
SUBSCRIBER_KINDS = ("iccid", "eui", "imei", "serial")


def subscriber_caller(principal: Principal) -> Principal:
    """The principal, once it holds both permissions a subscriber path needs (routes check it before the query,
    so that a token without them learns nothing but 403). Raises: Forbidden."""
    principal.require(OVERVIEW)
    principal.require(SUBSCRIBER)
    return principal


# --- company (the caller's organization; every organization for a platform token) ------------------------------

def company_data_usage(principal: Principal, query: AnalyticsQuery) -> dict:
    """GET /analytics/data-usage. Raises: Forbidden."""
    return {"content": responses.data_usage(_company_hours(principal, query, db.DIRECTION))}


def company_usage_by_subscriber(principal: Principal, query: AnalyticsQuery) -> dict:
    """GET /analytics/data-usage-by-subscriber. Raises: Forbidden."""
    return {"content": responses.usage_by_subscriber(_company_hours(principal, query, db.SUBSCRIBERS))}


def company_session_count(principal: Principal, query: AnalyticsQuery) -> dict:
    """GET /analytics/session-count. Raises: Forbidden."""
    return responses.session_count(_company_hours(principal, query, db.SESSIONS))


def company_usage_by_protocol(principal: Principal, query: AnalyticsQuery) -> dict:
    """GET /analytics/data-usage-network-protocol. Raises: Forbidden."""
    return {"content": responses.usage_by_protocol(_company_hours(principal, query, db.PROTOCOLS))}


def company_usage_by_ip(principal: Principal, query: AnalyticsQuery) -> dict:
    """GET /analytics/data-usage-ip-address. Raises: Forbidden."""
    return {"content": [responses.usage_by_ip(_company_hours(principal, query, db.IPS))]}


def _company_hours(principal: Principal, query: AnalyticsQuery, attributes: tuple[str, ...]) -> list[dict]:
    principal.require(OVERVIEW)
    hours = query.hours()
    if not principal.is_platform:
        return db.organization_hours(principal.organization_id, hours, attributes)
    # A platform token sees every organization: one Query per organization, merged by the shaping.
    return [item for organization_id in db.organization_ids()
            for item in db.organization_hours(organization_id, hours, attributes)]


# --- subscriber (one device the caller may see) -------------------------------------------------------------------

def subscriber_data_usage(principal: Principal, physical_id: str, query: SubscriberQuery) -> dict:
    """GET /analytics/data-usage/{physicalId}. Raises: Forbidden, NotFound."""
    return {"content": responses.data_usage(_subscriber_hours(principal, physical_id, query, db.DIRECTION))}


def subscriber_session_count(principal: Principal, physical_id: str, query: SubscriberQuery) -> dict:
    """GET /analytics/session-count/{physicalId}: an array of FormattedCompanySessionCount, as the seed's schema
    says. Raises: Forbidden, NotFound."""
    return {"content": [responses.session_count(_subscriber_hours(principal, physical_id, query, db.SESSIONS))]}


def subscriber_usage_by_ip(principal: Principal, physical_id: str, query: SubscriberQuery) -> dict:
    """GET /analytics/data-usage-ip-address/{physicalId}. Raises: Forbidden, NotFound."""
    return {"content": [responses.usage_by_ip(_subscriber_hours(principal, physical_id, query, db.IPS))]}


def _subscriber_hours(principal: Principal, physical_id: str, query: SubscriberQuery,
                      attributes: tuple[str, ...]) -> list[dict]:
    subscriber_caller(principal)
    query.check_physical_id(unquote(physical_id))
    return db.device_hours(find_subscriber(principal, physical_id), query.hours(), attributes)


def find_subscriber(principal: Principal, physical_id: str) -> int:
    """The id of the device a physicalId names, if the caller may see it.

    Raises:
        NotFound: SUBSCRIBER_NOT_FOUND, alike for an unknown value and another organization's device.
    """
    from pydantic import TypeAdapter, ValidationError

    from chalicelib.devices import service as devices
    from chalicelib.devices.models import SerialNumber

    value = unquote(physical_id).strip()   # path parameters arrive URL-encoded (STYLE fact 2)
    for kind in SUBSCRIBER_KINDS:
        if kind == "serial":
            # find_visible checks identifiers' formats but takes any serial: a key too long for DynamoDB is a 500.
            try:
                TypeAdapter(SerialNumber).validate_python(value)
            except ValidationError:
                break
        try:
            return int(devices.find_visible(principal, kind, value)["id"])
        except NotFound:
            continue
    raise NotFound(f"No subscriber with physicalId {value!r}.", code="SUBSCRIBER_NOT_FOUND")
