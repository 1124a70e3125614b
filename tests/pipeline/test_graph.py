"""The build's Dask wiring: a real LocalCluster through dask_client, and where its listeners are bound."""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.request

import psutil

from egoimu.pipeline.graph import dask_client, run_tasks

LOOPBACK = {"127.0.0.1", "::1"}


def _listening(proc: psutil.Process) -> list[tuple[int, str, int]]:
    """(pid, ip, port) of every LISTEN socket of ``proc`` and its descendants (the nannies and workers)."""
    out = []
    for p in [proc, *proc.children(recursive=True)]:
        try:
            conns = p.net_connections("inet") if hasattr(p, "net_connections") else p.connections("inet")
        except psutil.NoSuchProcess:
            continue
        out += [(p.pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    return out


def _other_addresses() -> list[str]:
    """This machine's IPv4 addresses that are not loopback."""
    return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family == socket.AF_INET and not ipaddress.ip_address(a.address).is_loopback]


def _refused(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, port)) != 0


def test_local_cluster_listens_on_loopback_only_and_serves_its_dashboard(capsys):
    """Scheduler, nannies, workers and dashboard: every LISTEN socket on 127.0.0.1 (the dashboard bound 0.0.0.0
    while the printed link said 127.0.0.1); the dashboard cannot be reached on another address of the machine.
    The link the build prints serves the dashboard's page (it answered "Dask needs bokeh>=3.1.0 for the
    dashboard" when the pipeline extra lacked bokeh)."""
    me = psutil.Process()
    with dask_client(workers=2, quiet=False) as client:
        printed = capsys.readouterr().err
        link = re.search(r"dashboard: (http://\S+) \(this machine only\)", printed)
        assert link, printed
        with urllib.request.urlopen(link.group(1), timeout=20) as page:
            status, kind, body = page.status, page.headers.get_content_type(), page.read().decode()
        assert (status, kind) == (200, "text/html"), (status, kind)
        assert "<html" in body.lower() and "bokeh" in body.lower() and "needs bokeh" not in body, body[:300]
        assert run_tasks(client, abs, [-1, -2], desc="t", progress=False) == [1, 2]  # the cluster works
        listening = _listening(me)
        dashboard = client.cluster.scheduler.http_server.port
        workers = {int(a.rpartition(":")[2]) for a in client.scheduler_info()["workers"]}
        assert len(workers) == 2
        ports = {port for _, _, port in listening}
        assert {dashboard, int(client.scheduler.address.rpartition(":")[2])} | workers <= ports
        assert len({pid for pid, _, _ in listening}) >= 3  # the driver (scheduler, dashboard) and the nannies' workers
        assert {ip for _, ip, _ in listening} <= LOOPBACK, listening
        assert all(_refused(host, dashboard) for host in _other_addresses())


def test_dashboard_exposed_only_when_asked():
    me = psutil.Process()
    with dask_client(workers=1, quiet=True, dashboard="0.0.0.0:0") as client:
        dashboard = client.cluster.scheduler.http_server.port
        listening = _listening(me)
        assert {ip for _, ip, port in listening if port == dashboard} == {"0.0.0.0"}
        assert {ip for _, ip, port in listening if port != dashboard} <= LOOPBACK, listening
