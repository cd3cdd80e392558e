#!/usr/bin/env python3
# Expect: deadlock — a pytest test forks while a thread is inside a logging handler; the child logs.
#
#   python3 -m pytest -q -s -p no:cacheprovider examples/python_pytest_fork.py
#
# A test module as a suite has them: a background thread (`ship_logs`) logs over and over through a handler that
# ships each record over a connection guarded by a lock of its own (`transport_lock`, held while sending: a network
# shipper, say); the test forks, and its child logs one line. logging re-creates its own handler locks in a child
# (os.register_at_fork), not the shipper's: the fork caught the shipper sending, so the child's emit() waits on
# the transport lock (a threading.Lock: on CPython 3.11 a semaphore) for a thread that vanished, forever. pytest has faulthandler on (handlers for
# SIGSEGV, SIGFPE, SIGABRT, SIGBUS, SIGILL) and CPython its SIGINT handler: none of them can make a lock
# acquisition succeed. Natively the test waits DEADLINE seconds (FH_DEADLINE, default 5), kills the child and
# fails; under `forkhazard run` the child is reported at its acquire (the shipper's Python stack at the fork in
# emit, the child's own in emit and test_child_logs_after_fork) and ended with 66, and the test fails at once.
# CPython 3.13's Lock is a PyMutex with no owner recorded: a note there, and the deadline.
import logging
import os
import signal
import sys
import threading
import time

DEADLINE = float(os.environ.get("FH_DEADLINE", "5"))


class ShipHandler(logging.Handler):
    """Ships each record over one connection, which a lock of the handler's own guards while it sends."""

    def __init__(self):
        super().__init__()
        self.transport_lock = threading.Lock()
        self.sending = threading.Event()

    def emit(self, record):
        with self.transport_lock:
            if not self.sending.is_set():
                self.sending.set()
            time.sleep(0.05)  # the send


def ship_logs(log, stop):
    while not stop.is_set():
        log.info("metrics: %d", time.monotonic_ns())


def test_child_logs_after_fork():
    log = logging.getLogger("fh.pytest")
    log.setLevel(logging.INFO)
    handler = ShipHandler()
    log.addHandler(handler)
    stop = threading.Event()
    shipper = threading.Thread(target=ship_logs, args=(log, stop), name="log-shipper")
    shipper.start()
    handler.sending.wait()
    print("\npython-lock:", "pymutex" if sys.version_info >= (3, 13) else "semaphore", file=sys.stderr, flush=True)
    print(f"ground-truth: expect=deadlock call=sem_wait lock=0 owner_tid={shipper.native_id}", file=sys.stderr,
          flush=True)
    pid = os.fork()
    if pid == 0:
        log.info("child started")  # the handler's lock: held by the shipper, which vanished
        os._exit(0)
    end = time.monotonic() + DEADLINE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            break
        if time.monotonic() >= end:
            os.kill(pid, signal.SIGKILL)
            status = os.waitpid(pid, 0)[1]
            break
        time.sleep(0.01)
    stop.set()
    shipper.join()
    log.removeHandler(handler)
    if os.WIFSIGNALED(status):
        print(f"child {pid} killed by signal {os.WTERMSIG(status)}", file=sys.stderr, flush=True)
    else:
        print(f"child {pid} exited with status {os.WEXITSTATUS(status)}", file=sys.stderr, flush=True)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the child did not log and exit"
