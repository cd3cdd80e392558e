# `make bench`'s fork-heavy Python program: a multiprocessing.Pool (fork context) of 2 workers mapping many short
# tasks, started ROUNDS times (each start forks its workers while the pool's own threads run: the shim takes
# the Python stacks at each of those forks).
import multiprocessing
import sys

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def square(x):
    return x * x


if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    total = 0
    for _ in range(ROUNDS):
        with ctx.Pool(2) as pool:
            total += sum(pool.map(square, range(5000), chunksize=50))
    print(total)
