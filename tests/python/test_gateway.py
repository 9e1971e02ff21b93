"""The gateway through Python's own HTTP client: probes, metrics and a clean SIGTERM."""

import urllib.request


def get(addr, path):
    host, port = addr
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as r:
        return r.status, r.read().decode()


def test_probes_and_metrics(dotdo):
    assert get(dotdo.addr("admin"), "/healthz") == (200, "ok\n")
    assert get(dotdo.addr("admin"), "/readyz")[0] == 200
    status, body = get(dotdo.addr("admin"), "/metrics")
    assert status == 200 and "dotdo_build_info" in body


def test_sigterm_exits_cleanly(dotdo_factory):
    d = dotdo_factory()
    assert d.stop() == 0
    assert "shut down cleanly" in d.log()
