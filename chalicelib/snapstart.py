"""Lambda SnapStart for the API and agent functions (infra/gateway.py): each is restored from a snapshot taken
after its INIT, so `import app` and what the first request imports are paid once per deployment, not per cold
start (docs/benchmarks.md, cold start).

Before the snapshot, prime() imports what a first request would (the route models, powertools' idempotency and
parameters utilities, the agent), so that the snapshot holds them. After each restore, restore() forgets what
restored copies must not share: AWS clients and their connections (and the credentials they hold), what the
process learned about the world (process_state: cached settings, token look-ups, the signing key, queue URLs),
and the random generator's state, reseeded from the OS (backoff jitter would otherwise be identical in every
copy). `secrets` and uuid4 read the OS's randomness on every call and need nothing.

The hooks come from the Lambda runtime's own `snapshot_restore_py`; elsewhere (tests, make run) there is none
and register() does nothing.
"""
import random
from importlib import import_module

PRIMED = ("chalicelib.api.openapi", "chalicelib.api.parsing", "chalicelib.api.pagination",
          "chalicelib.api.idempotency", "chalicelib.operations.agent", "chalicelib.signing",
          "aws_lambda_powertools.utilities.idempotency", "aws_lambda_powertools.utilities.parameters")


def register() -> bool:
    """Register the hooks when the runtime offers them; whether it did."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(prime)
    register_after_restore(restore)
    return True


def prime() -> None:
    for module in PRIMED:
        import_module(module)
    from chalicelib.api import contract, routes
    for declared in routes.DECLARED.values():      # every model a route parses or answers with
        for reference in (declared.op.query, declared.op.body, *declared.op.answers.values()):
            if reference is not None:
                contract.model(reference)


def restore() -> None:
    from chalicelib import aws, process_state
    aws.reset_clients()
    process_state.forget()
    random.seed()
