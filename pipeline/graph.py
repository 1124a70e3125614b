"""The only module that knows Dask: it wires the build's pure functions onto dask.distributed.

Default: a LocalCluster of worker *processes* with one thread each (decoders capped at one thread
through the environment). Its scheduler, nannies, workers and dashboard listen on 127.0.0.1 only
(:data:`LOOPBACK`); the dashboard goes elsewhere (e.g. ``0.0.0.0:8787``, every interface) or away only when
asked (``dashboard``). ``--scheduler ADDRESS`` connects to any existing cluster instead (a
``dask scheduler`` + ``dask worker`` pair, dask-jobqueue on SLURM, dask-kubernetes, ...): the same
tasks run there. Tasks are retried on worker failure; results come back with a progress bar.

With ``EGOIMU_STAGE_TIMES=FILE`` in the environment, every :func:`run_tasks` call appends one JSON line
``{"stage", "tasks", "workers", "seconds"}`` to FILE, and every :func:`timed` section of the build's own
process (reading the sources, starting the cluster, planning, the manifests, ...) one ``{"stage", "seconds"}``
line: ``egoimu bench`` reads them to place a build's wall time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tqdm import tqdm

from egoimu.manifests.memory import MMAP_THRESHOLD_BYTES

#: Environment of LocalCluster workers: one thread per numeric library / decoder, and glibc's mmap
#: threshold fixed at egoimu.manifests.memory's value (glibc reads it at start-up): clip buffers (9 MiB) are
#: then always mmapped and go back to the OS when freed, instead of landing on the heap once glibc has raised
#: its threshold after the first large free (measured: the peak RSS of a worker building a 10-minute video
#: fell by ~10 MiB, about 5 %).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD_BYTES)}


#: The only interface a LocalCluster's listeners bind to, unless the dashboard is exposed deliberately.
LOOPBACK = "127.0.0.1"
#: The dashboard's default address: a free port on the loopback interface.
DEFAULT_DASHBOARD = f"{LOOPBACK}:0"
#: How long ``--scheduler`` waits for the scheduler to answer: a scheduler that runs answers within a second; an
#: unreachable one is reported after this (Dask's own default waits 30 s).
SCHEDULER_CONNECT_TIMEOUT_S = 5


class ClusterError(RuntimeError):
    """The Dask cluster could not be started or reached (one line: the address and the reason)."""


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, quiet: bool = False,
                dashboard: str | None = DEFAULT_DASHBOARD) -> Iterator[Any]:
    """A connected ``distributed.Client``: to ``scheduler`` if given, else to a new LocalCluster whose
    scheduler, nannies and workers listen on :data:`LOOPBACK` only.

    Args:
        workers: LocalCluster worker processes, >= 1 (default: the machine's CPU count, at most 4).
        scheduler: address of an existing scheduler, e.g. ``tcp://127.0.0.1:8786``.
        dashboard: ``HOST:PORT`` of the LocalCluster's dashboard (default :data:`DEFAULT_DASHBOARD`, loopback;
            ``0.0.0.0:8787`` exposes it on every interface), None for no dashboard.
    Raises :class:`ClusterError` when the scheduler cannot be reached or the cluster not started.
    """
    from distributed import Client, LocalCluster

    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    # A LocalCluster's nannies run in this process and apply dask's pre-spawn environment (OMP_NUM_THREADS=1,
    # MKL_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_, ...) to os.environ here, not only to the workers: a torch
    # imported later in this process (egoimu demo trains after building) would then run on one thread. The
    # workers get their settings from WORKER_ENV; this process gets its environment back on exit.
    saved_environ = dict(os.environ)
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{SCHEDULER_CONNECT_TIMEOUT_S}s")
        except (OSError, ValueError, TypeError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}; check that it runs and "
                               f"listens there, or leave --scheduler out to start a LocalCluster") from None
        cluster = None
    else:
        n = workers or max(1, min(4, os.cpu_count() or 1))
        try:
            with timed("cluster_start"):
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host=LOOPBACK,
                                       dashboard_address=dashboard, env=WORKER_ENV, silence_logs=40)
                client = Client(cluster)
        except (OSError, RuntimeError) as exc:  # e.g. the dashboard's host is not an address of this machine
            raise ClusterError(f"cannot start a LocalCluster (dashboard {dashboard}): {exc}") from None
    try:
        if not quiet:
            print(f"[dask] {len(client.scheduler_info().get('workers', {}))} worker(s); "
                  f"dashboard: {_dashboard_text(client, cluster, dashboard)}", file=sys.stderr)
        yield client
    finally:
        with timed("cluster_close"):
            client.close()
            if cluster is not None:
                cluster.close()
        os.environ.clear()
        os.environ.update(saved_environ)


def _dashboard_text(client: Any, cluster: Any, dashboard: str | None) -> str:
    """The dashboard's link, and whether it can be reached from other machines."""
    if cluster is None:
        return str(getattr(client, "dashboard_link", None))
    if dashboard is None:
        return "off"
    port = cluster.scheduler.http_server.port
    host = dashboard.rpartition(":")[0].strip("[]")
    if host in (LOOPBACK, "localhost", "::1"):
        return f"http://{LOOPBACK}:{port}/status (this machine only)"
    if host in ("", "0.0.0.0", "::"):
        return f"http://{LOOPBACK}:{port}/status (listening on every interface: reachable from other machines)"
    return f"http://{host}:{port}/status (listening on {host}: reachable from other machines)"


def run_tasks(client: Any, fn: Callable[..., Any], items: Sequence[Any], *args: Any, desc: str,
              retries: int = 2, progress: bool = True, on_result: Callable[[int, Any], None] | None = None,
              ) -> list[Any]:
    """Run ``fn(item, *args)`` for every item on the cluster; results in ``items``' order.

    ``args`` are small (paths, the frozen config) and go with every task. ``on_result(index, result)`` is called
    on the client as each task finishes (e.g. to record progress). A task that raises after its
    retries stops the run with its exception.
    """
    from distributed import as_completed

    if not items:
        return []
    t0 = time.perf_counter()
    run = uuid.uuid4().hex[:8]
    futures = [client.submit(fn, item, *args, retries=retries, pure=False, key=f"{desc}-{run}-{i}")
               for i, item in enumerate(items)]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(items)
    with tqdm(total=len(items), desc=desc, unit="task", disable=not progress, file=sys.stderr) as bar:
        for future in as_completed(futures):
            i = index[future.key]
            results[i] = future.result()
            if on_result is not None:
                on_result(i, results[i])
            bar.update(1)
    _record_stage(client, desc, len(items), time.perf_counter() - t0)
    return results


def _record_stage(client: Any, stage: str, tasks: int, seconds: float) -> None:
    """Append the stage's timing to ``$EGOIMU_STAGE_TIMES`` (if set)."""
    if os.environ.get("EGOIMU_STAGE_TIMES"):
        _append_time({"stage": stage, "tasks": tasks, "workers": len(client.scheduler_info().get("workers", {})),
                      "seconds": seconds})


@contextlib.contextmanager
def timed(section: str) -> Iterator[None]:
    """Time a section of the build's own process (not a Dask stage) into ``$EGOIMU_STAGE_TIMES`` (if set), as
    ``{"stage": section, "seconds": wall seconds}``; recorded even when the section raises."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if os.environ.get("EGOIMU_STAGE_TIMES"):
            _append_time({"stage": section, "seconds": time.perf_counter() - t0})


def _append_time(record: dict[str, Any]) -> None:
    """One JSON line appended to ``$EGOIMU_STAGE_TIMES``."""
    with open(os.environ["EGOIMU_STAGE_TIMES"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
