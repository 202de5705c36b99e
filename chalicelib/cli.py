"""Bootstrap CLI: make an API token with AWS credentials instead of a token (API.md §9).

    AWS_ENDPOINT_URL=http://127.0.0.1:5000 python -m chalicelib.cli create-token --name ops --stage dev

Talks to whatever AWS the environment points at (boto3 honours AWS_ENDPOINT_URL). The secret goes to
stdout and nowhere else, so `TOKEN=$(python -m chalicelib.cli create-token ...)` captures just it.
"""
import argparse
import json
import os
import sys
from pathlib import Path

from chalicelib.tokens.models import PERMISSIONS

CONFIG_PATH = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
MAX_RATE_LIMIT = 100_000
BAD_ARGUMENTS = 2
AWS_FAILED = 1


def stage_environment(stage: str, config_path: Path = CONFIG_PATH) -> dict[str, str]:
    """The environment variables Chalice gives a stage's Lambdas: the app-wide ones, overridden by the stage's.

    Raises:
        KeyError: no such stage in the config.
    """
    config = json.loads(config_path.read_text())
    stage_config = config.get("stages", {})[stage]
    return {**config.get("environment_variables", {}), **stage_config.get("environment_variables", {})}


def _stages() -> list[str]:
    try:
        return sorted(json.loads(CONFIG_PATH.read_text()).get("stages", {}))
    except (OSError, ValueError):
        return []


def _permissions(value: str) -> list[str]:
    if value.strip() == "all":
        return list(PERMISSIONS)
    chosen = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PERMISSIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown permission {', '.join(unknown) or repr(value)}; use 'all' or a comma-separated list of: "
            + ", ".join(PERMISSIONS))
    return chosen


def _bounded_int(low: int, high: int):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not between {low} and {high}")
        return number
    return parse


def _name(value: str) -> str:
    if not 1 <= len(value.strip()) <= 100:
        raise argparse.ArgumentTypeError("a name is 1 to 100 characters")
    return value.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = commands.add_parser(
        "create-token", help="create an API token and print its secret (shown this once)",
        description="Create an API token: a platform token unless --organization-id is given. The secret is "
                    "printed to stdout, the token id to stderr.")
    create.add_argument("--name", required=True, type=_name, help="who or what the token is for")
    create.add_argument("--organization-id", type=_bounded_int(1, 10**12), metavar="N",
                        help="limit the token to this organization (default: a platform token)")
    create.add_argument("--permissions", type=_permissions, default=list(PERMISSIONS), metavar="all|p1,p2",
                        help="'all' (the default) or a comma-separated list of: " + ", ".join(PERMISSIONS))
    create.add_argument("--rate-limit", type=_bounded_int(1, MAX_RATE_LIMIT), metavar="N",
                        help="requests per minute (default: the deployment's, 100)")
    create.add_argument("--stage", choices=_stages(),
                        help="read TABLE_NAME, KMS_KEY_ID... from this stage in .chalice/config.json "
                             "where the environment does not set them")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.stage:
        for name, value in stage_environment(args.stage).items():
            os.environ.setdefault(name, value)
    missing = [name for name in ("TABLE_NAME", "KMS_KEY_ID") if not os.environ.get(name)]
    if missing:
        parser.error(f"{' and '.join(missing)} not set: export {'them' if len(missing) > 1 else 'it'} "
                     f"or pass --stage {'|'.join(_stages()) or 'STAGE'}")
    return run_create_token(args, parser)


def run_create_token(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # Imported here, once the environment is complete: settings and boto3 read it.
    from botocore.exceptions import BotoCoreError, ClientError
    from pydantic import ValidationError

    from chalicelib.config import get_settings
    from chalicelib.errors import FleetlineError, ServiceUnavailable
    from chalicelib.tokens import service
    from chalicelib.tokens.models import TokenCreate

    get_settings.cache_clear()
    try:
        settings = get_settings()
    except ValidationError as error:
        parser.error("invalid settings in the environment: " + "; ".join(
            f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()))
    request = TokenCreate(name=args.name, organization_id=args.organization_id, permissions=args.permissions,
                          rate_limit_per_minute=args.rate_limit)
    try:
        created = service.create_token(None, request)
    except (BotoCoreError, ClientError, ServiceUnavailable) as error:   # AWS refused, or did not answer
        target = os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        print(f"error: could not write to table {settings.table_name} at {target}: {error}", file=sys.stderr)
        return AWS_FAILED
    except FleetlineError as error:  # an unknown organization: the argument is wrong, not AWS
        parser.error(f"{error.message} (organization {args.organization_id})")
    scope = f"organization {created['organization_id']}" if created["organization_id"] else "platform"
    print(f"Created {scope} token {created['id']} ({created['name']!r}) with permissions "
          f"{', '.join(created['permissions'])}. Its secret, on stdout, is shown only this once.", file=sys.stderr)
    print(created["token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
