#!/usr/bin/env python3
# Expect: no error — the child of a multithreaded Python program waits on its own new Event until its parent
# ends it.
#
# A worker thread runs (it waits on an Event of the parent's). The child of os.fork() makes a brand-new
# threading.Event and waits on it with no timeout: by design, until its parent sends SIGTERM (a process pool's idle
# member). CPython builds the wait from a new lock (a semaphore made in the child): nothing a vanished thread
# held, used or waited on is in it. Natively the child dies of SIGTERM and the program exits 0; under forkhazard
# the same, with no error and no warning (a note at most).
#
#   python_event_child.py [MS]      how long the parent sees the child blocked before it ends it (default 1000)
import os
import signal
import sys
import threading
import time

stop = threading.Event()
worker = threading.Thread(target=stop.wait, name="parked")
worker.start()


def blocked_in_futex(pid):
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()[0] == "202"
    except (OSError, IndexError):
        return False


print("ground-truth: expect=none", flush=True)
pid = os.fork()
if pid == 0:
    signal.alarm(30)  # a last resort only: the parent ends the child
    threading.Event().wait()
    os._exit(3)
window_ms = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
seen = 0
while seen < window_ms // 10:  # blocked, and still blocked after the watchdog had its polls
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == pid:
        print(f"child {pid} ended before its parent ended it (status {status:#x})")
        sys.exit(1)
    seen = seen + 1 if blocked_in_futex(pid) else 0
    time.sleep(0.01)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
stop.set()
worker.join()
if os.WIFSIGNALED(status):
    print(f"child {pid} killed by signal {os.WTERMSIG(status)}")
else:
    print(f"child {pid} exited with status {os.WEXITSTATUS(status)}")
sys.exit(0 if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM else 1)
