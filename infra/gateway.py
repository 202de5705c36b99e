"""The API's edge in the packaged stack: stage throttling, access logs, and SnapStart for the API and agent Lambdas.

- Throttling: every method of the stage shares a rate and a burst (THROTTLE, per stage), so a flood of requests
  with made-up tokens is refused by API Gateway (429) before it costs a Lambda run and a read.
- Access logs: one JSON line per request in the log group `/aws/apigateway/fleetline-<stage>-access`, encrypted
  with the DataKey; API Gateway writes them with the account's CloudWatch role (ApiGatewayAccount: one per
  account and region, which this stack sets).
- SnapStart: the API and agent functions publish a version on each deployment (alias `live`) and are restored
  from a snapshot of their INIT (chalicelib/snapstart.py primes it and resets what restored copies must not
  share). API Gateway and the agent's event source call the alias, not $LATEST, which SnapStart never serves.
"""
import json

from infra.functions import Function
from infra.security import skip

THROTTLE = {"prod": (500, 1000), "dev": (50, 100)}     # requests per second, burst: API.md's 500/s target in prod
SNAPSTART = ("APIHandler", "OperationsAgentHandler")
ALIAS = "live"
TRANSIENT = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
PUSH_TO_LOGS = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTime",
    "method": "$context.httpMethod", "resource": "$context.resourcePath", "path": "$context.path",
    "status": "$context.status", "bytes": "$context.responseLength", "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integration.latency", "integrationStatus": "$context.integration.status",
    "userAgent": "$context.identity.userAgent", "error": "$context.error.message"}, separators=(",", ":"))


def alias_of(logical_id: str) -> str:
    """SAM's logical id for the alias AutoPublishAlias makes."""
    return f"{logical_id}Alias{ALIAS}"


def access_log_group(stage: str) -> str:
    return f"/aws/apigateway/fleetline-{stage}-access"


def rest_api(stage: str, api_name: str, routes: dict) -> dict:
    """The merge for Chalice's RestAPI: its name, the stage's throttle and access logs, and every integration
    pointed at the API function's alias."""
    rate, burst = THROTTLE.get(stage, THROTTLE["dev"])
    uri = ("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
           f"${{{alias_of('APIHandler')}}}/invocations")
    paths = {path: {method.lower(): {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub": uri}}}
                    for method in methods} for path, methods in routes.items()}
    return skip({"DependsOn": ["ApiGatewayAccount"], "Properties": {
        "Name": api_name,
        "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": rate,
                            "ThrottlingBurstLimit": burst}],
        "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                             "Format": ACCESS_LOG_FORMAT},
        "DefinitionBody": {"paths": paths}}},
        CKV_AWS_73="No X-Ray: the Lambdas do not trace (STYLE fact 7: the SDK costs 300 ms of cold start); "
                   "latency is in the access logs and API Gateway's Latency metric.",
        CKV_AWS_120="No cache: answers depend on the caller's token; the one cacheable report carries ETag and "
                    "Cache-Control for clients.")


def edge_resources(stage: str, retention_days: int) -> dict:
    """The access log group, the account's CloudWatch role for API Gateway, and the invoke permission on the
    alias."""
    return {
        "ApiAccessLogGroup": {"Type": "AWS::Logs::LogGroup", **TRANSIENT, "Properties": {
            "LogGroupName": access_log_group(stage), "RetentionInDays": retention_days,
            "KmsKeyId": {"Fn::GetAtt": ["DataKey", "Arn"]}}},
        "ApiGatewayLogsRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [{"Fn::Sub": PUSH_TO_LOGS}]}},
        "ApiGatewayAccount": {"Type": "AWS::ApiGateway::Account", "Properties": {
            "CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}}},
        "APIHandlerInvokePermission": {"Properties": {"FunctionName": {"Ref": alias_of("APIHandler")}}},
    }


def function_merge(function: Function, reasons: dict[str, str]) -> dict:
    """What the merge adds to one of Chalice's functions: SnapStart where it pays, and its checkov suppressions."""
    merged = {"Properties": {}}
    if function.logical_id in SNAPSTART:
        merged["Properties"] |= {"AutoPublishAlias": ALIAS, "SnapStart": {"ApplyOn": "PublishedVersions"}}
    return skip(merged, **reasons)
