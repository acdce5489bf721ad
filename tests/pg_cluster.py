"""A throwaway PostgreSQL cluster for the tests, whose server dies with the test process.

initdb into a temporary directory, then the postmaster started as this process's
own child (not daemonised by pg_ctl) with Linux's parent-death signal, after
dropping to the `postgres` user when running as root (PostgreSQL refuses root):
a test run killed with SIGKILL leaves no server behind. Its backends notice
the postmaster's death and exit on their own.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from emulator.models.pbx.sipp import die_with_parent


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server's bin folder, or None if none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    on_path = shutil.which("initdb")
    return Path(found[-1]).parent if found else Path(on_path).parent if on_path else None


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A cluster in a temporary folder, its server a child of this process."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.home = tempfile.mkdtemp(prefix="records-pg-")   # in /tmp: postgres can reach it
        self.data, self.port = f"{self.home}/data", free_port()
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.home, self.user.pw_uid, self.user.pw_gid)
        self.server: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL of the cluster's `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_server_user(self) -> None:
        # In the child, before exec: the credentials change first, since a change of
        # user clears the parent-death signal.
        if self.user is not None:
            os.setgroups([])
            os.setgid(self.user.pw_gid)
            os.setuid(self.user.pw_uid)
        die_with_parent()

    def start(self, timeout: float = 60.0) -> None:
        """initdb, then the server; returns once it takes connections."""
        subprocess.run([str(self.bindir / "initdb"), "-D", self.data, "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"],
                       check=True, capture_output=True, text=True, timeout=timeout,
                       preexec_fn=self._as_server_user)
        with open(f"{self.home}/log", "wb") as log:          # the server keeps its own copy
            self.server = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", self.data, "-k", self.home, "-p",
                 str(self.port), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=self._as_server_user)
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start: "
                                       + Path(f"{self.home}/log").read_text()[-2000:]) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown (SIGINT), then the folder removed."""
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(2)
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(10)
        shutil.rmtree(self.home, ignore_errors=True)
