#!/usr/bin/env python3
# Expect: possible-deadlock — the child acquires a threading.Lock that a thread took and released before os.fork().
#
#   python_lock_race.py [used|forker]
#
# used: a worker takes `journal_lock`, writes an entry, releases it and parks; then the main thread forks and the
# child acquires the lock. It is free at this fork, so the child goes on and exits 0; had the fork come while the
# worker held it (python_lock_fork.py), the child would wait forever. CPython 3.11's lock is a semaphore taken with
# sem_trywait, then sem_wait: under forkhazard the race is reported on every run (a possible-deadlock warning
# naming the worker and where it took the lock), whether or not it struck.
# forker, the control: only the main thread ever takes the lock, and it holds it across os.fork() (released in both
# processes after): nothing is reported.
# CPython 3.13's Lock is a PyMutex (a byte, taken with an atomic; only a contended one parks on a per-thread
# semaphore): there is no semaphore per lock to remember, and nothing to predict from (the hang itself is still
# reported: python_lock_fork.py).
import os
import sys
import threading

journal_lock = threading.Lock()
written = threading.Event()
release = threading.Event()
worker_tid = None


def worker_writes_entry():
    global worker_tid
    with journal_lock:
        worker_tid = threading.get_native_id()
    written.set()
    release.wait()


def child_acquires():
    with journal_lock:  # free at this fork: returns
        pass


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "used"
    print("python-lock:", "pymutex" if sys.version_info >= (3, 13) else "semaphore", flush=True)
    if mode not in ("used", "forker"):
        print(f"usage: {sys.argv[0]} [used|forker]", file=sys.stderr)
        return 2
    worker = threading.Thread(target=worker_writes_entry if mode == "used" else release.wait, name="journal-writer")
    worker.start()
    if mode == "used":
        written.wait()
        print(f"ground-truth: expect=possible-deadlock call=sem_trywait lock=0 owner_tid={worker_tid}", flush=True)
    else:
        print("ground-truth: expect=none", flush=True)
        journal_lock.acquire()  # held across the fork by the forking thread, as pthread_atfork handlers do
    pid = os.fork()
    if pid == 0:
        if mode == "forker":
            journal_lock.release()
        child_acquires()
        os._exit(0)
    if mode == "forker":
        journal_lock.release()
    _, status = os.waitpid(pid, 0)
    print(f"child {pid} exited with status {os.waitstatus_to_exitcode(status)}", flush=True)
    release.set()
    worker.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
