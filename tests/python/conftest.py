"""pytest harness: start the real dotdo binary on ephemeral ports with its own data dir."""

import json
import os
import pathlib
import signal
import subprocess
import tempfile
import threading

import pytest

LISTENING_PREFIX = "DOTDO_LISTENING "


def dotdo_bin() -> str:
    if os.environ.get("DOTDO_BIN"):
        return os.environ["DOTDO_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/dotdo/target"))
    return os.path.join(target, "debug", "dotdo")


class Dotdo:
    """A running `dotdo serve`; `addr(name)` gives (host, port) of a listener."""

    def __init__(self, extra_toml: str = ""):
        self._tmp = tempfile.TemporaryDirectory(prefix="dotdo-py-")
        self.dir = pathlib.Path(self._tmp.name)
        self.extra_toml = extra_toml
        self.proc = None
        self.addrs = {}
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
            f'[backend.embedded]\ndata_dir = "{self.data_dir}"\n\n{self.extra_toml}\n'
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
        self._tmp.cleanup()


@pytest.fixture
def dotdo_factory():
    """Start dotdo with extra TOML: `d = dotdo_factory('[redis]\\n...')`."""
    started = []

    def start(extra_toml: str = "") -> Dotdo:
        d = Dotdo(extra_toml)
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
