#!/usr/bin/env python3
# Expect: deadlock — a ProcessPoolExecutor (fork context) worker takes a lock a busy thread of the parent held.
#
#   python_pool_executor.py [DEADLINE]
#
# A metrics thread (`metrics_exporter`) keeps a threading.Lock almost all the time (it holds it across a short
# sleep, over and over) while the main thread starts a concurrent.futures.ProcessPoolExecutor with the "fork"
# context and submits one task. The pool forks its worker while the exporter holds the lock; the worker's task
# (`record_task`) takes the same lock. CPython 3.11 implements the Lock with a POSIX semaphore: in the worker it
# stays taken by a thread that vanished at fork, and the acquire never returns. Natively the parent gives up
# after DEADLINE seconds (default 5), kills the worker (SIGKILL) and reports the pool broken. Under forkhazard the
# worker is reported at its acquire (the holder named, with its Python stack at the fork: metrics_exporter, this
# file; the worker's own: record_task) and ended with 66; the pool says it is broken at once.
# The fix: ProcessPoolExecutor(mp_context=multiprocessing.get_context("forkserver")) (or "spawn").
# CPython 3.13's Lock is a PyMutex with no owner recorded: a note there (README, "The rule"), and the deadline.
import concurrent.futures
import multiprocessing
import os
import signal
import sys
import threading
import time

stats_lock = threading.Lock()
stop = threading.Event()
holding = threading.Event()
exporter_tid = None
samples = []


def metrics_exporter():
    global exporter_tid
    exporter_tid = threading.get_native_id()
    while not stop.is_set():
        with stats_lock:
            holding.set()
            samples.append(time.monotonic())  # "collects" while holding the lock
            time.sleep(0.05)
        time.sleep(0)  # lets the main thread take the GIL, almost never the lock


def record_task(n):
    with stats_lock:  # taken at the fork by the exporter, which vanished: never returns
        samples.append(n)
    return n * n


def main():
    deadline = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    exporter = threading.Thread(target=metrics_exporter, name="metrics-exporter", daemon=True)
    exporter.start()
    holding.wait()
    print("python-lock:", "pymutex" if sys.version_info >= (3, 13) else "semaphore", flush=True)
    print(f"ground-truth: expect=deadlock call=sem_wait lock=0 owner_tid={exporter_tid}", flush=True)
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    future = pool.submit(record_task, 7)
    workers = list(pool._processes.values())  # a hung worker is not ended by shutdown(): ended below
    try:
        print(f"result {future.result(timeout=deadline)}", flush=True)
        outcome = "finished"
    except concurrent.futures.process.BrokenProcessPool:
        outcome = "broken"
    except concurrent.futures.TimeoutError:
        outcome = "timed out"
    for p in workers:
        if p.exitcode is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:  # ended and reaped meanwhile
                pass
        p.join()
        for _ in range(100):  # the pool's own thread may be reaping it this instant: its status comes
            if p.exitcode is not None:
                break
            time.sleep(0.01)
        if p.exitcode is None:
            print(f"child {p.pid} ended, status unknown", flush=True)
        elif p.exitcode < 0:
            print(f"child {p.pid} killed by signal {-p.exitcode} ({signal.strsignal(-p.exitcode)})", flush=True)
        else:
            print(f"child {p.pid} exited with status {p.exitcode}", flush=True)
    print(f"pool: {outcome}", flush=True)
    pool.shutdown(wait=True, cancel_futures=True)
    stop.set()
    exporter.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
