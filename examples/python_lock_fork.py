#!/usr/bin/env python3
# Expect: deadlock — the child acquires a threading.Lock that a thread held across os.fork().
#
#   python_lock_fork.py [ALARM]      the child's alarm, in seconds, fractions allowed (default 5)
#
# A thread acquires `journal_lock` and keeps it (it waits on an Event) when the main thread calls os.fork().
# CPython 3.11 implements threading.Lock with a POSIX semaphore: in the child the semaphore is still at 0 and the
# only thread that could post it vanished at fork, so lock.acquire() in child_acquires() never returns. Natively
# signal.alarm(5) ends the child. Under forkhazard the child is reported (lock type semaphore) at the acquire and
# left as it is: CPython catches SIGINT in every process, and a SIGINT from anyone could still end the wait
# (KeyboardInterrupt), so the shim does not end it; the alarm does, as natively.
# CPython 3.13's Lock is a PyMutex: it parks on a semaphore the child's thread makes for the wait, with no owner
# recorded anywhere, the same wait as a child's own Event().wait(). Nothing read shows that a vanished thread holds
# it, so under the rule (README, "The rule") it is a note there, not an error; the alarm ends the child as natively.
import os
import signal
import sys
import threading

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


def main():
    holder = threading.Thread(target=holder_keeps_lock, name="journal-holder")
    holder.start()
    holding.wait()
    print("python-lock:", "pymutex" if sys.version_info >= (3, 13) else "semaphore", flush=True)
    print(f"ground-truth: expect=deadlock call=sem_wait lock=0 owner_tid={holder_tid}", flush=True)
    pid = os.fork()
    if pid == 0:
        signal.setitimer(signal.ITIMER_REAL, float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)  # never returns
        child_acquires()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
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
