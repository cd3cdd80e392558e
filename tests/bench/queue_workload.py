# `make bench`'s lock-heavy Python program: a producer and a consumer thread through queue.Queue (a Condition
# over a lock per put and get: CPython's locks are sem_clockwait/pthread mutexes underneath).
import queue
import sys
import threading

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
q = queue.Queue(maxsize=64)
total = 0


def producer():
    for i in range(N):
        q.put(i)
    q.put(None)


def consumer():
    global total
    while (item := q.get()) is not None:
        total += item


threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
for t in threads:
    t.start()
for t in threads:
    t.join()
sys.exit(0 if total == N * (N - 1) // 2 else 1)
