#!/usr/bin/env python3
# Expect: deadlock — the child acquires a threading.Lock that a thread held across os.fork().
#
#   python_lock_fork.py [DEADLINE] [sigterm|faulthandler|alarm|pool]
#
# A thread acquires `journal_lock` and keeps it (it waits on an Event) when the main thread calls os.fork().
# CPython 3.11 implements threading.Lock with a POSIX semaphore: in the child the semaphore is still at 0 and the
# only thread that could post it vanished at fork, so lock.acquire() in child_acquires() never returns. Natively
# the parent gives up after DEADLINE seconds (default 5; twice that with `alarm`) and kills the child (SIGKILL). Under forkhazard the child
# is reported at the acquire (lock type semaphore, the holder named) and ended with 66 at once: a lock acquisition
# is certain whatever the handlers (CPython's SIGINT handler; with `sigterm` a SIGTERM handler too, as servers
# install; with `faulthandler`, pytest's fault handlers), a handler can interrupt it, never release the lock. With
# `alarm` the child arms a timer of its own (signal.alarm) before it acquires: its own timeout; the deadlock is
# reported, and the child is left to its timer. With `pool` the child starts a ThreadPoolExecutor (its worker runs
# one task, then idles on the pool's queue) before it acquires: every thread of the child then waits for good, and
# the process is judged as a whole (ended with 66; the worker's wait shown with the report).
# CPython 3.13's Lock is a PyMutex: it parks on a semaphore the child's thread makes for the wait, with no owner
# recorded anywhere, the same wait as a child's own Event().wait(). Nothing read shows that a vanished thread holds
# it, so under the rule (README, "The rule") it is a note there, not an error; the parent's deadline ends it.
import concurrent.futures
import os
import signal
import sys
import threading
import time

journal_lock = threading.Lock()
holding = threading.Event()   # set once the holder has the lock
release = threading.Event()   # set by the parent after the child ended
holder_tid = None


def holder_keeps_lock():
    global holder_tid
    journal_lock.acquire()
    holder_tid = threading.get_native_id()
    holding.set()
    release.wait()
    journal_lock.release()


def child_acquires():
    journal_lock.acquire()  # the holder vanished at fork: never returns
    journal_lock.release()


def wait_or_kill(pid, deadline):
    """The child's status, killing it (SIGKILL) once `deadline` seconds have passed."""
    end = time.monotonic() + deadline
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status
        if time.monotonic() >= end:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.01)


def main():
    deadline = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    mode = sys.argv[2] if len(sys.argv) > 2 else ""
    if mode == "sigterm":
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
    elif mode == "faulthandler":
        import faulthandler
        faulthandler.enable()
    holder = threading.Thread(target=holder_keeps_lock, name="journal-holder")
    holder.start()
    holding.wait()
    print("python-lock:", "pymutex" if sys.version_info >= (3, 13) else "semaphore", flush=True)
    print(f"ground-truth: expect=deadlock call=sem_wait lock=0 owner_tid={holder_tid}", flush=True)
    pid = os.fork()
    if pid == 0:
        if mode == "alarm":
            signal.setitimer(signal.ITIMER_REAL, deadline)  # its own timeout
        if mode == "pool":
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="child-pool")
            pool.submit(int, "1").result()  # the worker exists, and idles on the pool's queue
        child_acquires()
        os._exit(0)
    status = wait_or_kill(pid, 2 * deadline if mode == "alarm" else deadline)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        print(f"child {pid} killed by signal {sig} ({signal.strsignal(sig)})", flush=True)
    else:
        print(f"child {pid} exited with status {os.WEXITSTATUS(status)}", flush=True)
    release.set()
    holder.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
