#!/usr/bin/env python3
# Expect: no report — subprocess.run() 20 times while four threads are busy.
#
# Four threads run pure-Python loops and churn a shared threading.Lock while the main thread starts /bin/true
# 20 times with subprocess.run(). CPython's subprocess uses vfork (or fork) and then only async-signal-safe
# calls before exec, so nothing is reported and every run exits 0.
import subprocess
import sys
import threading

WORKERS = 4
RUNS = 20

shared_lock = threading.Lock()
stop = threading.Event()
started = threading.Barrier(WORKERS + 1)
counter = 0


def worker_churns(seed):
    global counter
    started.wait()
    x = seed
    while not stop.is_set():
        for _ in range(1000):
            x = (x * 1103515245 + 12345) % (1 << 31)
        with shared_lock:
            counter += 1


def main():
    threads = [threading.Thread(target=worker_churns, args=(i + 1,), name=f"churner-{i}")
               for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    started.wait()
    print("ground-truth: expect=none", flush=True)
    clean = 0
    for _ in range(RUNS):
        if subprocess.run(["/bin/true"]).returncode == 0:
            clean += 1
    stop.set()
    for thread in threads:
        thread.join()
    print(f"{clean} of {RUNS} runs exited 0 (lock churned {counter} times)", flush=True)
    return 0 if clean == RUNS else 1


if __name__ == "__main__":
    sys.exit(main())
