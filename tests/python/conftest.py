"""pytest harness: start the real dotdo binary on ephemeral ports with its own data dir.

`DOTDO_E2E_BACKEND=store` puts every object on two `dotdo store` processes and `=workerd`
on the Cloudflare worker in a real workerd, as the Rust harness (tests/src/lib.rs) does, so
the same suites run unchanged on every backend."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

LISTENING_PREFIX = "DOTDO_LISTENING "
STORE_SECRET = "dotdo-e2e-secret"
REPO = pathlib.Path(__file__).resolve().parents[2]


def dotdo_bin() -> str:
    if os.environ.get("DOTDO_BIN"):
        return os.environ["DOTDO_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/dotdo/target"))
    return os.path.join(target, "debug", "dotdo")


def _read_listening(proc) -> dict:
    """The ports a dotdo process reports on its first stdout line."""
    line = proc.stdout.readline()
    if not line.startswith(LISTENING_PREFIX):
        raise RuntimeError(f"dotdo did not report its ports: {line!r}")
    return json.loads(line[len(LISTENING_PREFIX):])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Nodes:
    """The nodes a gateway's objects live on, per DOTDO_E2E_BACKEND (none for embedded)."""

    def __init__(self, dir: pathlib.Path, backend: str | None = None):
        self.procs = []
        self.urls = []
        backend = backend or os.environ.get("DOTDO_E2E_BACKEND", "embedded")
        if backend == "store":
            for i in range(2):
                self._store(dir / f"store{i}")
        elif backend == "workerd":
            self._workerd(dir / "workerd")
        elif backend != "embedded":
            raise RuntimeError(f"DOTDO_E2E_BACKEND={backend}: expected embedded, store or workerd")

    def _store(self, dir: pathlib.Path):
        dir.mkdir()
        config = dir / "store.toml"
        config.write_text(
            f'[backend.embedded]\ndata_dir = "{dir / "data"}"\n'
            f'[store]\nlisten = "127.0.0.1:0"\nsecret = "{STORE_SECRET}"\n'
        )
        proc = subprocess.Popen(
            [dotdo_bin(), "store", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(dir / "store.log", "ab"),
            text=True,
        )
        self.procs.append(proc)
        self.urls.append(f"http://{_read_listening(proc)['store']}")

    def _workerd(self, dir: pathlib.Path):
        shm = pathlib.Path("/dev/shm")
        storage = pathlib.Path(tempfile.mkdtemp(prefix="dotdo-py-do-", dir=shm if shm.is_dir() else None))
        dir.mkdir()
        port = _free_port()
        workerd = REPO / "tests/node/node_modules/.bin/workerd"
        assert workerd.exists(), f"{workerd} missing: npm install in tests/node"
        proc = subprocess.Popen(
            [str(workerd), "serve", str(REPO / "deploy/cloudflare/workerd.capnp"),
             "--directory-path", f"do-storage={storage}", "--socket-addr", f"http=127.0.0.1:{port}"],
            env={**os.environ, "DOTDO_SECRET": STORE_SECRET},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(dir / "workerd.log", "ab"),
        )
        self.procs.append(proc)
        self.storage = storage
        started = time.monotonic()
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() - started > 60 or proc.poll() is not None:
                    raise RuntimeError("workerd did not start")
                time.sleep(0.05)
        self.urls.append(f"http://127.0.0.1:{port}")

    def toml(self) -> str:
        if not self.urls:
            return ""
        nodes = ", ".join(f'"{u}"' for u in self.urls)
        return f'[backend]\nkind = "remote"\n[backend.remote]\nnodes = [{nodes}]\nsecret = "{STORE_SECRET}"\n'

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if getattr(self, "storage", None):
            subprocess.run(["rm", "-rf", str(self.storage)], check=False)


class Dotdo:
    """A running `dotdo serve`; `addr(name)` gives (host, port) of a listener."""

    def __init__(self, extra_toml: str = "", backend: str | None = None):
        self._tmp = tempfile.TemporaryDirectory(prefix="dotdo-py-")
        self.dir = pathlib.Path(self._tmp.name)
        self.extra_toml = extra_toml
        self.proc = None
        self.addrs = {}
        self.nodes = _Nodes(self.dir, backend)
        self._spawn()

    @property
    def data_dir(self) -> pathlib.Path:
        return self.dir / "data"

    def log(self) -> str:
        path = self.dir / "dotdo.log"
        return path.read_text() if path.exists() else ""

    def addr(self, name: str):
        host, port = self.addrs[name].rsplit(":", 1)
        return host, int(port)

    def _spawn(self):
        config = self.dir / "dotdo.toml"
        config.write_text(
            f'[backend.embedded]\ndata_dir = "{self.data_dir}"\n{self.nodes.toml()}\n{self.extra_toml}\n'
        )
        log = open(self.dir / "dotdo.log", "ab")
        bin_path = dotdo_bin()
        assert os.path.exists(bin_path), f"{bin_path} missing: run `cargo build -p dotdo`"
        self.proc = subprocess.Popen(
            [bin_path, "serve", "--ephemeral-ports", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        found = {}
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                if not found and line.startswith(LISTENING_PREFIX):
                    found.update(json.loads(line[len(LISTENING_PREFIX):]))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60) or not found:
            self.kill()
            raise RuntimeError("dotdo did not report its ports; log:\n" + self.log())
        self.addrs = found

    def kill(self):
        """SIGKILL: nothing gets a chance to flush."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> int:
        """SIGTERM and wait for a clean exit."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def restart(self):
        if self.proc and self.proc.poll() is None:
            self.stop()
        self._spawn()

    def kill_and_restart(self):
        self.kill()
        self._spawn()

    def close(self):
        self.kill()
        self.nodes.close()
        self._tmp.cleanup()


@pytest.fixture
def dotdo_factory():
    """Start dotdo with extra TOML: `d = dotdo_factory('[redis]\\n...')`; `backend=` pins
    one backend for a test whose subject is that backend's own files."""
    started = []

    def start(extra_toml: str = "", backend: str | None = None) -> Dotdo:
        d = Dotdo(extra_toml, backend)
        started.append(d)
        return d

    yield start
    for d in started:
        d.close()


@pytest.fixture(scope="module")
def dotdo():
    """One dotdo with the default configuration, shared by a test module."""
    d = Dotdo()
    yield d
    d.close()


@pytest.fixture
def r(dotdo):
    """A redis-py client (RESP2, decoded replies) on the module's dotdo, databases flushed."""
    import redis

    host, port = dotdo.addr("redis")
    client = redis.Redis(host=host, port=port, decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r3(dotdo):
    """A redis-py client speaking RESP3 (decoded replies) on the module's dotdo."""
    import redis

    host, port = dotdo.addr("redis")
    client = redis.Redis(host=host, port=port, protocol=3, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="module")
def real_redis(tmp_path_factory):
    """A redis-server (installed by the test command), without persistence."""
    import socket
    import subprocess
    import time

    import redis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = tmp_path_factory.mktemp("redis-server")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(d)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.time() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.time() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield client
    client.close()
    proc.kill()
    proc.wait()


def assert_same_errors(clients, commands):
    """Each command fails on every client (redis-py clients of dotdo and of redis-server) with
    the same error text."""
    import redis

    for args in commands:
        errors = []
        for c in clients:
            with pytest.raises(redis.ResponseError) as e:
                c.execute_command(*args)
            errors.append(str(e.value))
        assert len(set(errors)) == 1, (args, errors)
