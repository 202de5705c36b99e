"""The processes `make run` starts (moto's server, `chalice local`), and only those, stopped on the way out."""
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STOP_SECONDS = 5


class StartFailed(Exception):
    """A process did not come up; the message says which and where its log is."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    # SO_REUSEADDR as the servers themselves set it: a port in TIME_WAIT from the last run counts as free,
    # one with a listener does not.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def accepts_connections(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if make run itself is killed (even by SIGKILL), so nothing outlives it.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class ChildProcess:
    """A subprocess in its own process group, its output in a log file.

    Its own group keeps a terminal's Ctrl-C from reaching it directly, so make run stops the API before
    the AWS stand-in it depends on, and a stop reaches anything the child itself started.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path):
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def wait_until(self, ready, timeout: float, what: str) -> None:
        """Poll ready() until true.

        Raises:
            StartFailed: the process exited, or ready() stayed false for `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.alive():
                raise StartFailed(f"{self.name} exited with status {self._process.returncode} before {what}; "
                                  f"see {self.log_path}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise StartFailed(f"{self.name} did not {what} within {timeout:.0f} s; see {self.log_path}:\n"
                                  f"{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to its group, SIGKILL after STOP_SECONDS."""
        # Only while the leader is unreaped: then its pid, which is also the group id, cannot be anyone else's.
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self._process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._process.wait()
        self._log.close()

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            pass


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: unwind to main's clean-up."""


def stop_on_signals() -> None:
    """SIGINT and SIGTERM raise Stopped in the main thread, so that a run cleans up what it started."""
    def stop(signum, frame):
        raise Stopped(signal.Signals(signum).name)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def env_number(name: str, default: int, high: int, what: str) -> int:
    """An environment setting from 1 to `high`. Raises: ValueError naming the variable and what it must be."""
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise ValueError(f"{name}={value!r} is not {what} (1-{high})")
    return int(value)
