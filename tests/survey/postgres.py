"""A throw-away PostgreSQL server for the tests that prove the models and migrations are not SQLite-only.

The server binaries come from Debian's `postgresql` package (scripts/system-deps.sh installs it). The
cluster lives in a temporary directory, listens on a Unix socket only, and is stopped and deleted at
the end of the session. PostgreSQL refuses to run as root, so under root (CI, containers) it runs as
the `postgres` system user that the package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

SUPERUSER = "hailong"


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                               reverse=True)), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run `make system-deps` "
                           "(Debian package postgresql)")
    return found


@dataclass(frozen=True)
class Server:
    socket_dir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]


@contextmanager
def temporary_server() -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="hailong-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", 50000 + os.getpid() % 10000

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True)

    try:
        run(_binary("initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale",
            "--no-sync")
        options = f"-k {root} -p {port} -c listen_addresses='' -c fsync=off"
        run(_binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        try:
            yield Server(root, port)
        finally:
            run(_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
