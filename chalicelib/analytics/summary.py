"""Device App Connection Summary (API.md §7): the precomputed summary of the caller's filters and a page of
precomputed device rows; never a telemetry record (chalicelib/rollups writes every item read here).

A request costs the same whatever the fleet size or the window: 1 Query (every lane's state: last_updated), 1 Query
for the summary of (scope, window, device type, app category) (each lane's share of it; +1 for its "*" sibling,
which gives the device counts of a category), 1 Query for the page's index entries (by key for every filter but
`app_category` with a `status`, a FilterExpression: docs/rollups.md), and 1 BatchGetItem per 100 rows; +1 GetItem
to resolve an organization given by name.
"""
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from boto3.dynamodb.conditions import Attr, Key

from chalicelib import clock, organizations
from chalicelib.analytics.summary_models import SummaryQuery
from chalicelib.config import get_settings
from chalicelib.paging import Paging
from chalicelib.rollups.windows import ALIASES, BY_NAME, Window, period
from chalicelib.store import dynamo, schema
from chalicelib.tokens.models import Principal

ALL = schema.ALL
TOP_APPLICATIONS = 10
MAX_AGE_SECONDS = 60


@dataclass
class SummaryPage:
    head: dict          # summary_period, summary
    insights: dict      # aggregated_insights
    results: list[dict]
    count: int
    more: bool
    last: str | None    # sort value of the last row (the cursor's position)

    def body(self, page: dict) -> dict:
        """The answer in the seed's order, `page` being page_body()'s count/next/previous/results."""
        return {"count": page["count"], "next": page["next"], "previous": page["previous"], **self.head,
                "results": page["results"], "aggregated_insights": self.insights}


def connection_summary(principal: Principal, query: SummaryQuery, paging: Paging) -> SummaryPage:
    """Raises: Forbidden (permission, an organization outside the token's scope), BadRequest (organization and
    organization_id naming two organizations)."""
    principal.require("reports:read")
    scope = schema.summary_scope(organizations.service.filter_scope(principal, query.organization,
                                                                     query.organization_id))
    window = BY_NAME[ALIASES.get(query.time_range, query.time_range)]
    category = query.app_category or ALL
    computed_at = _last_updated()
    figures = _summary(scope, window.name, query.device_type or ALL, category)
    entries, more = _index_page(scope, window.name, query, paging)
    rows = _rows([int(entry["device_id"]) for entry in entries])
    results = [_row(rows.get(int(entry["device_id"])), int(entry["device_id"]), window.name, category)
               for entry in entries]
    inactive = figures["devices"] - figures["active"] - figures["failed"]
    count = {"all": figures["devices"], "active": figures["active"], "failed": figures["failed"],
             "inactive": inactive}[query.status]
    reference = clock.parse_iso(computed_at) if computed_at else clock.now()
    head = {"summary_period": period(window, reference), "summary": _overview(figures, window, computed_at)}
    last = schema.summary_sort_value(int(entries[-1]["device_id"])) if entries else None
    return SummaryPage(head, _insights(figures, window), results, count, more, last)


def _last_updated() -> str | None:
    """The smallest computed_at of the rollup lanes: every lane's figures are at least that recent (None until every
    lane has run once)."""
    states = {int(item["SK"]): item.get("computed_at") for item in dynamo.query_all(
        KeyConditionExpression=Key("PK").eq(schema.LANE_STATES_PK), ProjectionExpression="SK, computed_at")}
    times = [states.get(lane) for lane in range(get_settings().rollup_lanes)]
    return None if any(t is None for t in times) else min(times)


def _summary(scope: str, window: str, device_type: str, category: str) -> dict:
    figures = _summed(scope, window, device_type, category)
    if category != ALL:
        # A category's items count activity only: the device counts are its "*" sibling's.
        base = _summed(scope, window, device_type, ALL)
        figures["devices"], figures["types"] = base["devices"], base["types"]
    return figures


def _summed(scope: str, window: str, device_type: str, category: str) -> dict:
    """The lanes' shares of one summary, added up (rollups/summaries.py writes them)."""
    out = _empty()
    items = dynamo.query_all(KeyConditionExpression=Key("PK").eq(schema.summary_partition(scope, window, device_type,
                                                                                          category)),
                             ProjectionExpression="figures")
    for item in items:
        for name, value in json.loads(item["figures"]).items():
            head, _, key = name.partition(":")
            if head in _FIELDS:
                out[_FIELDS[head]] += Decimal(str(value)) if head == "rt" else int(value)
            elif head in ("a", "u"):
                out["apps"].setdefault(key, [0, 0])[head == "u"] += int(value)
            elif head in ("d", "t"):
                table = out["days" if head == "d" else "types"]
                table[key] = table.get(key, 0) + int(value)
    out["apps"] = {app: figures for app, figures in out["apps"].items() if figures[0]}
    out["app_count"] = len(out["apps"])
    return out


_FIELDS = {"n": "devices", "act": "active", "fail": "failed", "att": "attempts", "suc": "successes", "rt": "rt"}


def _empty() -> dict:
    return {"devices": 0, "active": 0, "failed": 0, "attempts": 0, "successes": 0, "rt": 0, "apps": {},
            "app_count": 0, "days": {}, "types": {}}


def _index_page(scope: str, window: str, query: SummaryQuery, paging: Paging) -> tuple[list[dict], bool]:
    status = None if query.status == "all" else query.status
    category = query.app_category
    if category is None or status is None:
        index, pk = schema.summary_index_partition(scope, window, query.device_type, status)
        expression = None
    else:
        # A device's status in one category is on its entry, not in its keys: the one filter read past.
        index, pk = schema.summary_index_partition(scope, window, query.device_type, None)
        active, failed = Attr("active_in").contains(category), Attr("failed_in").contains(category)
        expression = {"active": active, "failed": failed, "inactive": ~active & ~failed}[status]
    return dynamo.read_page(index, pk, paging.limit, offset=paging.skip, after=paging.after,
                            filter_expression=expression)


def _rows(device_ids: list[int]) -> dict[int, dict]:
    """The devices' rows (BatchGetItem, 100 keys a request): what a page shows, not the state beside it."""
    items = dynamo.batch_get([schema.summary_row_key(d) for d in device_ids],
                             projection="device_id, device_name, device_type, organization, figures")
    return {int(item["device_id"]): item for item in items}


def _one_decimal(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _rate(successes, attempts) -> float | None:
    return _one_decimal(Decimal(successes) * 100 / Decimal(attempts)) if attempts else None


def _average(total, attempts) -> float | None:
    return _one_decimal(Decimal(str(total)) / Decimal(attempts)) if attempts else None


def _quality(status: str, success_rate: float | None, response_time: float | None) -> str | None:
    """API.md §7, on the figures as shown (one decimal)."""
    if status == "inactive":
        return None
    if success_rate >= 98 and response_time <= 250:
        return "excellent"
    if success_rate >= 95:
        return "good"
    return "fair" if success_rate >= 90 else "poor"


def _row(row: dict | None, device_id: int, window: str, category: str) -> dict:
    row = row or {}
    attempts, successes, response_ms, last_success = (json.loads(row.get("figures") or "{}").get(window, {})
                                                      .get(category) or (0, 0, 0, None))
    status = "inactive" if not attempts else ("active" if successes else "failed")
    success_rate, response_time = _rate(successes, attempts), _average(response_ms, attempts)
    return {"device_id": device_id, "device_name": row.get("device_name"), "device_type": row.get("device_type"),
            "organization": row.get("organization"), "total_attempts": attempts,
            "successful_connections": successes, "failed_connections": attempts - successes,
            "success_rate": success_rate, "average_response_time": response_time,
            "last_successful_connection": last_success, "status": status,
            "connection_quality": _quality(status, success_rate, response_time)}


def _overview(figures: dict, window: Window, computed_at: str | None) -> dict:
    return {"total_devices": figures["devices"], "active_devices": figures["active"],
            "total_applications": figures["app_count"], "active_connections": figures["successes"],
            "success_rate": _rate(figures["successes"], figures["attempts"]),
            "average_response_time": _average(figures["rt"], figures["attempts"]),
            "time_range": window.name, "last_updated": computed_at}


def _insights(figures: dict, window: Window) -> dict:
    ranked = sorted(figures["apps"].items(), key=lambda item: (-item[1][0], item[0]))[:TOP_APPLICATIONS]
    devices = figures["devices"]
    breakdown = {device_type: _one_decimal(Decimal(count) * 100 / Decimal(devices))
                 for device_type, count in sorted(figures["types"].items(), key=lambda item: (-item[1], item[0]))
                 if devices and count}
    days = figures["days"]
    peak_day = min(days, key=lambda day: (-days[day], day)) if any(days.values()) else None
    return {"top_applications": [{"app_name": name, "connection_count": attempts, "unique_devices": unique}
                                 for name, (attempts, unique) in ranked],
            "device_type_breakdown": breakdown,
            "connection_trends": {"daily_average": _one_decimal(Decimal(figures["attempts"]) / window.days),
                                  "peak_day": peak_day, "peak_connections": days[peak_day] if peak_day else 0}}
