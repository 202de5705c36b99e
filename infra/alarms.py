"""CloudWatch alarms for the packaged stack, and the SNS topic they notify (docs/deployment.md, "Operating").

What wakes someone: a message in the dead-letter queue (an operation the agent gave up on), the
operations queue backing up, any Lambda error or throttle, any 5xx from the API, DynamoDB throttling the
table or one of its indexes (after the SDK's retries: a 503 to a client, or a slower background job), and
rollups falling behind. The API's Lambda rarely errors even when a route fails, because Chalice answers an
unhandled exception with a 500 response; the API Gateway 5XXError metric is what counts those.
"""
from chalicelib.observability import NAMESPACE, ROLLUP_LAG, SERVICE
from chalicelib.store.schema import table_definition
from infra.functions import Function

PERIOD_SECONDS = 300
# Retries back off up to 15 minutes and a message has five receives: older than an hour means stuck.
OLDEST_MESSAGE_SECONDS = 3600
# The rollups' schedule ticks every 2 minutes; figures 10 minutes old mean a lane is stuck or far behind.
ROLLUP_LAG_SECONDS = 600


def alarm(name: str, description: str, namespace: str, metric: str, dimensions: dict, statistic: str = "Sum",
          threshold: float = 0, missing: str = "notBreaching") -> dict:
    """Fires when the statistic over 5 minutes exceeds `threshold`; no data is not a breach unless `missing` says."""
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": name, "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
        "Statistic": statistic, "Period": PERIOD_SECONDS, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": missing,
        "AlarmActions": [{"Ref": "AlarmTopic"}], "OKActions": [{"Ref": "AlarmTopic"}]}}


def table_alarms(prefix: str, table_name: str) -> dict:
    """Read and write throttle events of the table, and write throttle events of each index (a throttled index
    holds back the table's writes)."""
    table = {"TableName": table_name}
    resources = {
        f"Table{kind}ThrottleAlarm": alarm(
            f"{prefix}-table-{kind.lower()}-throttles", f"DynamoDB throttled {kind.lower()}s of the table: hot "
            "partition? See docs/capacity.md.", "AWS/DynamoDB", f"{kind}ThrottleEvents", table)
        for kind in ("Read", "Write")}
    for index in table_definition(table_name)["GlobalSecondaryIndexes"]:
        name = index["IndexName"]
        resources[f"{name}WriteThrottleAlarm"] = alarm(
            f"{prefix}-{name.lower()}-write-throttles", f"DynamoDB throttled writes to index {name}: a hot index "
            "partition holds back the table's writes.", "AWS/DynamoDB", "WriteThrottleEvents",
            table | {"GlobalSecondaryIndexName": name})
    return resources


def rollup_lag_alarm(prefix: str) -> dict:
    """The rollups publish ROLLUP_LAG (seconds their figures are behind) every run: no data means no run either."""
    return {"RollupLagAlarm": alarm(
        f"{prefix}-rollup-lag", "Rollup figures are over 10 minutes behind (or no run reported): is "
        "roll_up_telemetry or aggregate_telemetry failing or throttled?", NAMESPACE, ROLLUP_LAG,
        {"service": SERVICE}, "Maximum", ROLLUP_LAG_SECONDS, missing="breaching")}


def alarm_resources(stage: str, functions: list[Function], api_name: str, api_stage: str, table_name: str,
                    function_name=lambda function: {"Ref": function.logical_id}) -> dict:
    """The topic, its optional e-mail subscription and every alarm. `function_name(function)` is the Lambda's
    name as the alarm's dimension: a Ref inside the packaged stack, the deployed name beside `chalice deploy`."""
    prefix = f"fleetline-{stage}"
    resources = {
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{prefix}-alarms",
                                                                 "KmsMasterKeyId": {"Ref": "DataKey"}}},
        "AlarmEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail", "Properties": {
            "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}, "TopicArn": {"Ref": "AlarmTopic"}}},
        "OperationsDeadLetterQueueAlarm": alarm(
            f"{prefix}-operations-dlq", "Operation messages in the dead-letter queue: see README, DLQ redrive.",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": ["OperationsDeadLetterQueue", "QueueName"]}}, "Maximum"),
        "OperationsQueueAgeAlarm": alarm(
            f"{prefix}-operations-backlog", "The oldest operation message waits for over an hour: is the agent "
            "running?", "AWS/SQS", "ApproximateAgeOfOldestMessage",
            {"QueueName": {"Fn::GetAtt": ["OperationsQueue", "QueueName"]}}, "Maximum", OLDEST_MESSAGE_SECONDS),
        "RollupsDeadLetterQueueAlarm": alarm(
            f"{prefix}-rollups-dlq", "A rollups message was given up on: its lane's pending work waits in the table; "
            "see docs/rollups.md.", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": ["RollupsDeadLetterQueue", "QueueName"]}}, "Maximum"),
        "BulkDeadLetterQueueAlarm": alarm(
            f"{prefix}-bulk-dlq", "A bulk operation's round failed at every receive: see its worker's log group; "
            "the revival schedule asks for the round again.", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": ["BulkDeadLetterQueue", "QueueName"]}}, "Maximum"),
        "ApiServerErrorsAlarm": alarm(
            f"{prefix}-api-5xx", "The API answered 5xx (unhandled errors, Lambda failures or timeouts).",
            "AWS/ApiGateway", "5XXError", {"ApiName": api_name, "Stage": api_stage}),
        **table_alarms(prefix, table_name),
        **rollup_lag_alarm(prefix),
    }
    for function in functions:
        dimensions = {"FunctionName": function_name(function)}
        resources[f"{function.logical_id}ErrorsAlarm"] = alarm(
            f"{prefix}-{function.name}-errors", f"{function.name} failed (see its log group).",
            "AWS/Lambda", "Errors", dimensions)
        resources[f"{function.logical_id}ThrottlesAlarm"] = alarm(
            f"{prefix}-{function.name}-throttles", f"{function.name} was throttled (account concurrency).",
            "AWS/Lambda", "Throttles", dimensions)
    return resources


PARAMETERS = {"AlarmEmail": {"Type": "String", "Default": "",
                             "Description": "Where alarm notifications go (empty: subscribe to the topic later)."}}
CONDITIONS = {"HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}}
