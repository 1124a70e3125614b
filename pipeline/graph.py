"""The only module that knows Dask: it wires the build's pure functions onto dask.distributed.

Default: a LocalCluster of worker *processes* with one thread each (decoders capped at one thread
through the environment). ``--scheduler ADDRESS`` connects to any existing cluster instead (a
``dask scheduler`` + ``dask worker`` pair, dask-jobqueue on SLURM, dask-kubernetes, ...): the same
tasks run there. Tasks are retried on worker failure; results come back with a progress bar.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tqdm import tqdm

#: Environment of LocalCluster workers: one thread per numeric library / decoder.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1"}


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, quiet: bool = False
                ) -> Iterator[Any]:
    """A connected ``distributed.Client``: to ``scheduler`` if given, else to a new LocalCluster.

    Args:
        workers: LocalCluster worker processes (default: the machine's CPU count, at most 4).
        scheduler: address of an existing scheduler, e.g. ``tcp://127.0.0.1:8786``.
    """
    import os

    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        cluster = None
    else:
        n = workers or max(1, min(4, os.cpu_count() or 1))
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               env=WORKER_ENV, silence_logs=40)
        client = Client(cluster)
    try:
        if not quiet:
            link = getattr(client, "dashboard_link", None)
            print(f"[dask] {len(client.scheduler_info().get('workers', {}))} worker(s); dashboard: {link}",
                  file=sys.stderr)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
    return results
