"""`make bench`: cold start, and DynamoDB requests, items and handler time per API call, on moto."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What tests/conftest.py sets before importing app (STYLE facts 5 and 6); AWS_ENDPOINT_URL stays unset.
ENV = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_SESSION_TOKEN": "testing", "TABLE_NAME": "fleetline-dev", "KMS_KEY_ID": "alias/fleetline-dev",
       "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "INFO"}
