"""The token bootstrap CLI (chalicelib/cli.py): the secret it prints works through the API; bad input exits 2."""
import os

import pytest

from chalicelib.cli import main, stage_environment
from chalicelib.config import get_settings


@pytest.fixture
def restored_stage_environment(monkeypatch):
    """--stage fills os.environ; register every variable it may set so the test leaves no trace."""
    for name in stage_environment("dev"):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _tokens(api) -> list[dict]:
    return api.get("/admin/tokens/").json_body["results"]


def test_platform_token_printed_by_the_cli_authenticates_through_the_api(api, capsys):
    assert main(["create-token", "--name", "ops"]) == 0

    out, err = capsys.readouterr()
    secret = out.strip()
    assert out == secret + "\n"  # only the secret on stdout, for TOKEN=$(...)
    assert secret not in err
    created = next(t for t in _tokens(api) if t["name"] == "ops")
    assert f"token {created['id']}" in err
    assert created["organization_id"] is None
    assert api.get("/admin/organizations/", token=secret).status_code == 200


def test_organization_token_gets_only_the_listed_permissions_and_rate_limit(api, capsys):
    organization_id = api.organization()

    code = main(["create-token", "--name", "help desk", "--organization-id", str(organization_id),
                 "--permissions", "devices:read, diagnostics:read", "--rate-limit", "500"])

    secret = capsys.readouterr().out.strip()
    assert code == 0
    created = next(t for t in _tokens(api) if t["name"] == "help desk")
    assert (created["organization_id"], created["permissions"], created["rate_limit_per_minute"]) == (
        organization_id, ["devices:read", "diagnostics:read"], 500)
    assert api.get("/inventory_device/", token=secret).status_code == 200
    refused = api.post("/inventory_device/", {"name": "x", "serial_number": "X1", "type": 1,
                                              "organization_id": organization_id}, token=secret)
    assert refused.status_code == 403
    assert refused.json_body["error"]["code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize("argv", [
    [],
    ["create-token"],
    ["create-token", "--name", "  "],
    ["create-token", "--name", "ops", "--permissions", "devices:fly"],
    ["create-token", "--name", "ops", "--permissions", ","],
    ["create-token", "--name", "ops", "--rate-limit", "0"],
    ["create-token", "--name", "ops", "--rate-limit", "many"],
    ["create-token", "--name", "ops", "--organization-id", "0"],
    ["create-token", "--name", "ops", "--stage", "staging"],
    ["delete-everything"],
])
def test_bad_arguments_exit_2_before_any_aws_call(moto, capsys, argv):
    # No table exists: had the CLI gone as far as AWS, it would have failed with 1, not 2.
    with pytest.raises(SystemExit) as exit_:
        main(argv)

    out, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert out == ""
    assert "error:" in err


def test_unknown_organization_exits_2_and_creates_nothing(api, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["create-token", "--name", "ops", "--organization-id", "999"])

    assert exit_.value.code == 2
    assert "Unknown organization" in capsys.readouterr().err
    assert [t["name"] for t in _tokens(api)] == ["platform"]


def test_missing_table_name_without_stage_exits_2_naming_the_variable(moto, capsys, monkeypatch):
    monkeypatch.delenv("TABLE_NAME")

    with pytest.raises(SystemExit) as exit_:
        main(["create-token", "--name", "ops"])

    assert exit_.value.code == 2
    assert "TABLE_NAME not set" in capsys.readouterr().err


def test_stage_supplies_the_table_and_key_the_environment_lacks(api, capsys, restored_stage_environment):
    restored_stage_environment.delenv("TABLE_NAME")
    restored_stage_environment.delenv("KMS_KEY_ID")

    assert main(["create-token", "--name", "ops", "--stage", "dev"]) == 0

    assert os.environ["TABLE_NAME"] == "fleetline-dev"
    assert api.get("/admin/organizations/", token=capsys.readouterr().out.strip()).status_code == 200


def test_environment_wins_over_the_stage_config(api, capsys, restored_stage_environment):
    restored_stage_environment.setenv("TABLE_NAME", "fleetline-elsewhere")

    code = main(["create-token", "--name", "ops", "--stage", "dev"])
    restored_stage_environment.undo()
    get_settings.cache_clear()

    out, err = capsys.readouterr()
    assert code == 1  # no such table in this AWS: an AWS failure, not a bad argument
    assert out == ""
    assert "fleetline-elsewhere" in err
    assert [t["name"] for t in _tokens(api)] == ["platform"]
