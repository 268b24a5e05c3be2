"""Many threads arm, re-arm and remove one-shot callbacks at once: exact
counts, nothing lost, nothing fired twice."""

import os
import threading

import aioloop
from aioloop import aio

from .aiotest import run_aio

PIPES = 6
ROUNDS = 200


def test_rearms_from_other_threads_fire_each_event_once():
    # Each pipe ping-pongs ROUNDS times; its callback re-arms it from a
    # task on another dispatch thread (after a fire that was not re-armed,
    # the fd goes to the re-arming thread's loop).
    pipes = [os.pipe() for _ in range(PIPES)]
    for r, _ in pipes:
        os.set_blocking(r, False)
    counts = [0] * PIPES
    empty = [0]
    lock = threading.Lock()
    done = [0]

    def make(k):
        r, w = pipes[k]

        def on_read(fd):
            try:
                os.read(fd, 100)
            except BlockingIOError:
                with lock:
                    empty[0] += 1
            counts[k] += 1
            if counts[k] == ROUNDS:
                with lock:
                    done[0] += 1
                    if done[0] == PIPES:
                        aio.aexit()
                return
            aio.sched(rearm, hint=aioloop.thread_index() + 1)

        def rearm():
            aio.read(on_read, r)
            os.write(w, b"x")

        return on_read

    aio.ainit(3, 1)
    try:
        for k in range(PIPES):
            # From this plain thread, before amain: pipe k lives on loop k % 3.
            aio.read(make(k), pipes[k][0], hint=k)
            os.write(pipes[k][1], b"x")
        aio.amain()
    finally:
        for r, w in pipes:
            os.close(r)
            os.close(w)
    assert counts == [ROUNDS] * PIPES
    assert empty == [0]


def test_plain_threads_arming_and_removing_agree_on_every_callback():
    # Four plain threads each arm and remove their own fd's callbacks
    # while the loops run: every remove returns exactly what was armed.
    fds = [os.pipe() for _ in range(4)]
    results = [[] for _ in range(4)]
    started = threading.Event()

    def worker(k):
        r, w = fds[k]
        started.wait(10)
        for i in range(300):
            def fn(fd, i=i):
                pass
            prev = aio.read(fn, r, hint=k)
            got = aio.remove_read(r)
            results[k].append((prev is None, got is fn))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]

    def finish():
        for t in threads:
            t.join()
        aio.aexit()

    closer = threading.Thread(target=finish)
    for t in threads + [closer]:
        t.start()
    try:
        run_aio(started.set, threads=2)
    finally:
        started.set()
        for t in threads + [closer]:
            t.join()
        for r, w in fds:
            os.close(r)
            os.close(w)
    assert results == [[(True, True)] * 300] * 4
