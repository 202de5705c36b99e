"""`chalice local` for `make run`, with a listen backlog that takes a burst of concurrent clients.

chalice's dev server keeps socketserver's default backlog of 5 connections waiting to be accepted: sixteen
clients connecting at once (a provisioning script's workers) overflow it, and the kernel resets some of their
connections after a second. Run as `python -m local.chalice_local local --port ...` (chalice's own arguments).
"""
import sys

BACKLOG = 128


def main() -> int:
    from chalice.cli import main as chalice_main
    from chalice.local import ThreadedHTTPServer

    ThreadedHTTPServer.request_queue_size = BACKLOG
    return chalice_main()


if __name__ == "__main__":
    sys.exit(main())
