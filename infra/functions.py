"""The Lambdas a stage deploys, read from app.py's own declarations: one per kind of entry Chalice makes.

`chalice package` and `chalice deploy` make one function for all the routes (`api_handler`) and one per
`@app.on_sqs_message` / `@app.schedule` / `@app.lambda_function`, named after the handler. Deriving the
list here, instead of keeping a copy, is what lets a new schedule get its policy and alarms without
anyone remembering to add it (tests/infra checks that every function has both).
"""
from dataclasses import dataclass

from chalice.app import ScheduledEventConfig, SQSEventConfig
from chalice.utils import to_cfn_resource_name

APP_NAME = "fleetline"
API_HANDLER = "api_handler"


@dataclass(frozen=True)
class Function:
    name: str            # Chalice's name for it: "api_handler" or the handler function's name
    kind: str            # "api", "queue", "schedule", "lambda", or the event source's class name

    @property
    def logical_id(self) -> str:
        """The function's resource in `chalice package`'s template (Chalice renames the API's one)."""
        return "APIHandler" if self.kind == "api" else to_cfn_resource_name(self.name)

    @property
    def role_logical_id(self) -> str:
        # With autogen_policy off, Chalice gives every function a role of its own named "<name>_role".
        return to_cfn_resource_name(f"{self.name}_role")

    def deployed_name(self, stage: str) -> str:
        """The Lambda's name as `chalice deploy` gives it; the packaged stack sets the same one."""
        return f"{APP_NAME}-{stage}" if self.kind == "api" else f"{APP_NAME}-{stage}-{self.name}"

    def log_group(self, stage: str) -> str:
        return f"/aws/lambda/{self.deployed_name(stage)}"


def lambda_functions(app) -> list[Function]:
    """Every Lambda Chalice makes for `app`, the API first, then in declaration order.

    Raises RuntimeError for a route without its declaration (chalicelib/api/routes.py): the policies, the
    template and the alarms are not written for an API that would serve a route without an access rule.
    """
    from chalicelib.api import routes

    routes.verify(app)
    functions = [Function(API_HANDLER, "api")] if app.routes else []
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig):
            functions.append(Function(source.name, "queue"))
        elif isinstance(source, ScheduledEventConfig):
            functions.append(Function(source.name, "schedule"))
        else:   # EventBridge patterns, S3, SNS, Kinesis, streams: none today; each would need its own grants
            functions.append(Function(source.name, type(source).__name__))
    functions += [Function(function.name, "lambda") for function in app.pure_lambda_functions]
    return functions


def schedule_expressions(app) -> dict[str, str]:
    """name -> "rate(...)"/"cron(...)" of every scheduled handler, as EventBridge will get it."""
    out = {}
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            out[source.name] = expression if isinstance(expression, str) else expression.to_string()
    return out
