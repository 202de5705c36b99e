"""Logger, metrics and tracer shared by every handler; metric names as constants."""
import os
import warnings

from aws_lambda_powertools import Logger, Metrics

# A service name other than the Chalice app_name, or each log line is printed twice (STYLE fact 6).
SERVICE = os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "fleetline-api")
NAMESPACE = os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Fleetline")

# log_metrics wraps every handler, and most requests record no metric: that is expected, not news.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

DEVICES_CREATED = "DevicesCreated"
DEVICES_UPDATED = "DevicesUpdated"
DEVICES_DELETED = "DevicesDeleted"
REQUESTS_RATE_LIMITED = "RequestsRateLimited"
TELEMETRY_RECORDS_ACCEPTED = "TelemetryRecordsAccepted"
TELEMETRY_RECORDS_DUPLICATE = "TelemetryRecordsDuplicate"
TELEMETRY_RECORDS_REJECTED = "TelemetryRecordsRejected"
DIAGNOSTIC_ENTRIES_CREATED = "DiagnosticEntriesCreated"
HEALTH_CHECKS_RUN = "HealthChecksRun"
HEALTH_CHECKS_LATE = "HealthChecksLate"
ROLLUP_RECORDS_READ = "RollupRecordsRead"
ROLLUP_ITEMS_WRITTEN = "RollupItemsWritten"
ROLLUP_DURATION = "RollupDuration"
# Seconds the rollups' figures are behind the newest settled change, published by every run (a Maximum over 5 min
# above 20 min, or no data at all, raises infra/alarms.py's rollup-lag alarm).
ROLLUP_LAG = "RollupLagSeconds"
OPERATIONS_REQUESTED = "OperationsRequested"
OPERATIONS_SEND_DEFERRED = "OperationsSendDeferred"
OPERATIONS_RESENT = "OperationsResent"
OPERATIONS_HANDED_BACK = "OperationsHandedBack"
BULK_OPERATIONS_CREATED = "BulkOperationsCreated"
BULK_OPERATIONS_ABORTED = "BulkOperationsAborted"
BULK_DEVICES_QUEUED = "BulkDevicesQueued"
ROLLUP_UNITS = "RollupUnits"
