"""What a warm Lambda remembers between invocations, forgotten at once: for a fresh AWS world (a new moto
in tests and benchmarks), where what was learned about the old one is wrong. The boto3 clients may stay
(moto answers whichever mock is active); aws.reset_clients() drops them too."""


def forget() -> None:
    from chalicelib import drivers, signing
    from chalicelib.config import get_settings
    from chalicelib.device_types import db as device_types_db
    from chalicelib.operations import queue
    from chalicelib.organizations import db as organizations_db
    from chalicelib.store import dynamo
    from chalicelib.tokens import service as token_service

    get_settings.cache_clear()
    signing.forget_key()
    dynamo.forget_sequences()
    token_service.forget_cached_tokens()
    queue.forget_queue_urls()
    drivers.reset_driver()
    device_types_db.forget_cached()
    organizations_db.forget_known()
