#!/usr/bin/env python3
# Expect: possible-deadlock (or deadlock) — a multiprocessing child (fork context) writes to a file a thread of
# the parent keeps writing to.
#
#   python_mp_writer.py [CHILDREN]
#
# A thread appends lines to a buffered file nonstop (`journal_writer`); the main thread starts CHILDREN (default 5)
# processes with multiprocessing's fork context, each of which writes one line to the same file object. A buffered
# file is guarded by a lock CPython does not re-create at fork (on 3.11 a semaphore): a child whose fork caught the
# writer inside write() waits for it forever (natively, until the parent's join times out and kills it); the others
# take the free lock, which the vanished writer used: the race, predicted. Either way the report names the writer
# thread and gives its Python stack at the fork (journal_writer, this file) and the child's own (child_writes).
import multiprocessing
import os
import sys
import threading
import time

journal = open(os.devnull, "w", buffering=1 << 16)
stop = threading.Event()


def journal_writer():
    n = 0
    while not stop.is_set():
        journal.write(f"line {n}\n")
        n += 1
        if n % 64 == 0:
            time.sleep(0)  # let the main thread run (a thread in a tight loop can starve it of the GIL)


def child_writes():
    journal.write("from the child\n")
    journal.flush()
    os._exit(0)


def main():
    children = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    writer = threading.Thread(target=journal_writer, name="journal-writer")
    writer.start()
    time.sleep(0.05)
    print(f"ground-truth: expect=possible-deadlock python={sys.version_info[0]}.{sys.version_info[1]}", flush=True)
    ctx = multiprocessing.get_context("fork")
    for _ in range(children):
        p = ctx.Process(target=child_writes)
        p.start()
        p.join(5)
        if p.exitcode is None:
            p.kill()
            p.join()
        print(f"child {p.pid} exited with status {p.exitcode}", flush=True)
    stop.set()
    writer.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
