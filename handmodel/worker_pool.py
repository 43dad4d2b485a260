"""Per-sample work in this process or in a pool of spawned worker processes, each holding its own state (hand
models, a Blender scene) set up once by an initializer; `interhand prepare` and the importers share it."""

import os
from collections.abc import Callable, Sequence

WORKER_SAMPLES = 400  # samples a worker handles before it is replaced (Blender's memory grows over long runs)


WORKERS_HELP = "Worker processes (0: one per CPU core)."


def cores_available() -> int:
    """The CPU cores this process may use (its affinity where the platform tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def resolve_workers(workers: int) -> int:
    """`--workers` as a process count: 0 is one per CPU core, as in every command."""
    return workers if workers > 0 else cores_available()


def worker_threads(workers: int) -> int:
    """Render threads per worker: 0 (every core) for one worker, else the cores shared out."""
    return 0 if workers <= 1 else max(1, (os.cpu_count() or 1) // workers)


def stop_pool(pool) -> None:
    """Stop a ProcessPoolExecutor that failed or was interrupted now: its own exit would first run every queued
    task. Its processes are ended and the queued tasks left to fail with them (a cancelled task makes the
    executor's own thread raise, with a traceback, when it finds the processes gone)."""
    for p in list((pool._processes or {}).values()):  # CPython's executor keeps its processes here
        p.terminate()
    pool.shutdown(wait=False)


def _quiet_init(init: Callable, *args) -> None:
    """A worker's initializer: interrupts are the parent's to handle (handmodel.errors.quiet_worker), then `init`."""
    from handmodel.errors import quiet_worker

    quiet_worker()
    init(*args)


def run_in_workers(todo: Sequence, workers: int, init: Callable, init_args: tuple, run_chunk: Callable,
                   close: Callable, on_results: Callable) -> None:  # fmt: skip
    """Call `run_chunk(list of items)` over `todo` and hand each returned list to `on_results`, in order.

    One worker (or one item): `init(*init_args)` here, one item per call, then `close()`. More: a spawn pool of
    `workers` processes, each set up by `init(*init_args)` and replaced after WORKER_SAMPLES items, chunks of up to
    16 items (`close` is not called there: the process ends)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if workers <= 1 or len(todo) <= 1:
        init(*init_args)
        try:
            for item in todo:
                on_results(run_chunk([item]))
        finally:
            close()
        return
    size = max(1, min(16, len(todo) // (4 * workers)))
    chunks = [list(todo[i : i + size]) for i in range(0, len(todo), size)]
    per_child = max(1, WORKER_SAMPLES // size)
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_quiet_init,
                               initargs=(init, *init_args), max_tasks_per_child=per_child)  # fmt: skip
    futures = [pool.submit(run_chunk, chunk) for chunk in chunks]  # not map: its cleanup cancels them (stop_pool)
    try:
        for future in futures:
            on_results(future.result())
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown()
