"""CloudWatch alarms for the packaged stack, and the SNS topic they notify (docs/deployment.md, "Operating").

What wakes someone: a message in the dead-letter queue (an operation the agent gave up on), the
operations queue backing up, any Lambda error or throttle, and any 5xx from the API. The API's Lambda
rarely errors even when a route fails, because Chalice answers an unhandled exception with a 500
response; the API Gateway 5XXError metric is what counts those.
"""
from infra.functions import Function

PERIOD_SECONDS = 300
# Retries back off up to 15 minutes and a message has five receives: older than an hour means stuck.
OLDEST_MESSAGE_SECONDS = 3600


def alarm(name: str, description: str, namespace: str, metric: str, dimensions: dict, statistic: str = "Sum",
          threshold: float = 0) -> dict:
    """Fires when the statistic over 5 minutes exceeds `threshold`; no data is not a breach."""
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": name, "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
        "Statistic": statistic, "Period": PERIOD_SECONDS, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "AlarmTopic"}], "OKActions": [{"Ref": "AlarmTopic"}]}}


def alarm_resources(stage: str, functions: list[Function], api_name: str, api_stage: str,
                    function_name=lambda function: {"Ref": function.logical_id}) -> dict:
    """The topic, its optional e-mail subscription and every alarm. `function_name(function)` is the Lambda's
    name as the alarm's dimension: a Ref inside the packaged stack, the deployed name beside `chalice deploy`."""
    prefix = f"fleetline-{stage}"
    resources = {
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{prefix}-alarms"}},
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
        "BulkDeadLetterQueueAlarm": alarm(
            f"{prefix}-bulk-dlq", "A bulk operation's round failed at every receive: see its worker's log group; "
            "the revival schedule asks for the round again.", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": ["BulkDeadLetterQueue", "QueueName"]}}, "Maximum"),
        "ApiServerErrorsAlarm": alarm(
            f"{prefix}-api-5xx", "The API answered 5xx (unhandled errors, Lambda failures or timeouts).",
            "AWS/ApiGateway", "5XXError", {"ApiName": api_name, "Stage": api_stage}),
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
