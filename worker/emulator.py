"""The local AWS emulator: moto server over HTTP on 127.0.0.1, in the background.

    python -m worker.emulator up --port 4566 --dir .aws-local    # pid file, port file, log file, health check
    python -m worker.emulator status --dir .aws-local
    python -m worker.emulator reset --dir .aws-local             # forget every bucket, queue and record
    python -m worker.emulator down --dir .aws-local

The state lives in the server's memory for as long as it runs: `make run` leaves it running so
that `make status` and `make show` can read the results, and `make aws-down` stops it. The
folder's pid and port files say which emulator is ours: `down` and `reset` act on that one only
(and only when its process is moto server), whatever AWS_ENDPOINT_URL says. The integration
tests start their own on a free port with `start()`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from worker.errors import EmulatorError

HEALTH_PATH = "/moto-api/config"
RESET_PATH = "/moto-api/reset"  # moto's own: forget all state
PID_FILE = "moto.pid"
PORT_FILE = "moto.port"
LOG_FILE = "moto.log"


@dataclass(frozen=True)
class Emulator:
    pid: int
    port: int
    host: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH_PATH, timeout=timeout) as response:
            status: int = response.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _server_command(host: str, port: int) -> list[str]:
    found = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if found:
        return [found, "-H", host, "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]


def start(directory: Path, port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> Emulator:
    """Start moto server in its own session, logging to directory/moto.log; wait until healthy."""
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / LOG_FILE
    with open(log_path, "ab") as log:
        process = subprocess.Popen(_server_command(host, port), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    emulator = Emulator(process.pid, port, host, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"moto server exited with code {process.returncode}; see {log_path}")
        if healthy(emulator.url):
            (directory / PID_FILE).write_text(f"{process.pid}\n")
            (directory / PORT_FILE).write_text(f"{port}\n")
            return emulator
        time.sleep(0.2)
    stop_pid(process.pid)
    raise EmulatorError(f"moto server did not answer on {emulator.url}{HEALTH_PATH} within {timeout:.0f} s; see {log_path}")


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # reap it if it is our child; otherwise just watch it go
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            if not _alive(pid):
                return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _command_line(pid: int) -> str:
    """The process's command line ('' when it cannot be read): /proc on Linux, `ps` elsewhere."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        pass
    try:
        return subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True,
                              timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def running(directory: Path) -> Emulator | None:
    """The emulator this folder's pid and port files name, if that process is alive and is moto
    server (a stale pid file whose number now belongs to another process names nothing)."""
    try:
        pid = int((directory / PID_FILE).read_text())
        port = int((directory / PORT_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not _alive(pid) or "moto" not in _command_line(pid):
        return None
    return Emulator(pid, port, "127.0.0.1", directory / LOG_FILE)


def up(directory: Path, port: int, host: str) -> int:
    current = running(directory)
    if current and current.port != port:
        print(f"the AWS emulator from {directory} already runs at {current.url}, not port {port}: stop it first "
              f"(make aws-down), or use AWS_LOCAL_PORT={current.port}", file=sys.stderr)
        return 1
    if current and healthy(current.url):
        print(f"AWS emulator already running at {current.url} (pid {current.pid})")
        return 0
    if healthy(f"http://{host}:{port}"):
        print(f"something already answers at http://{host}:{port}: stop it, or pick another AWS_LOCAL_PORT")
        return 1
    try:
        emulator = start(directory, port, host)
    except EmulatorError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"AWS emulator (moto server) at {emulator.url}, pid {emulator.pid}, log {emulator.log}")
    return 0


def reset(directory: Path) -> int:
    """Empty our emulator: no buckets, queues or tables afterwards (`make run` starts from here)."""
    current = running(directory)
    if current is None:
        print(f"no AWS emulator started from {directory} is running: nothing to reset", file=sys.stderr)
        return 1
    request = urllib.request.Request(current.url + RESET_PATH, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except (urllib.error.URLError, OSError) as exc:
        print(f"could not reset the AWS emulator at {current.url}: {exc}; see {current.log}", file=sys.stderr)
        return 1
    print(f"AWS emulator at {current.url} emptied (the previous run's buckets, queues and records are gone)")
    return 0


def down(directory: Path) -> int:
    current = running(directory)
    if current is None:
        print(f"no AWS emulator started from {directory} is running")
    else:
        stop_pid(current.pid)
        print(f"stopped the AWS emulator at {current.url} (pid {current.pid}); its buckets, queues and records are gone")
    for name in (PID_FILE, PORT_FILE):
        (directory / name).unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.emulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "status", "reset"])
    parser.add_argument("--dir", type=Path, default=Path(".aws-local"), help="pid and log files (default .aws-local)")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    if args.action == "up":
        return up(args.dir, args.port, args.host)
    if args.action == "down":
        return down(args.dir)
    if args.action == "reset":
        return reset(args.dir)
    current = running(args.dir)
    print(f"running at {current.url} (pid {current.pid})" if current else "not running")
    return 0 if current else 1


if __name__ == "__main__":
    sys.exit(main())
