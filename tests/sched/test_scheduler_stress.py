"""Races of the Scheduler run many times with exact counts.

CI runs a bounded number of rounds; the long version is
`AIOLOOP_STRESS=20 python -m pytest tests/sched/test_scheduler_stress.py`
(see README: "Stress tests"), on the GIL build and on 3.13t with the GIL off.
"""

import asyncio
import os
import random
import threading

import pytest

import aioloop

# Multiplies rounds and sizes; 1 in CI.
SCALE = int(os.environ.get("AIOLOOP_STRESS", "1"))
N_THREADS = 4


def _wait_until(predicate, timeout=60.0):
    async def waiter():
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            assert loop.time() < deadline, "timed out"
            await asyncio.sleep(0.001)
    return waiter()


def test_eight_submitters_to_four_threads_run_every_call_once_in_order():
    submitters = 8
    per = 5000 * SCALE
    # seen[t] is written only by dispatch thread t.
    seen = [[] for _ in range(N_THREADS)]

    def record(sub, seq, hinted):
        seen[aioloop.thread_index()].append((sub, seq, hinted))

    async def main(s):
        start = threading.Barrier(submitters)

        def submit(sub):
            start.wait()
            for seq in range(per):
                if seq % 2:
                    s.sched(record, sub, seq, True, hint=sub)
                else:
                    s.sched(record, sub, seq, False)

        threads = [threading.Thread(target=submit, args=(k,)) for k in range(submitters)]
        for t in threads:
            t.start()
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        await _wait_until(lambda: sum(map(len, seen)) >= submitters * per)

    with aioloop.Scheduler(threads=N_THREADS) as s:
        s.run(main(s))
    allitems = [x for lst in seen for x in lst]
    assert len(allitems) == submitters * per
    assert len(set(allitems)) == submitters * per
    # Hinted work ran on hint % N, in each submitter's order.
    for t, lst in enumerate(seen):
        by_sub = {}
        for sub, seq, hinted in lst:
            if hinted:
                assert sub % N_THREADS == t
                by_sub.setdefault(sub, []).append(seq)
        for seqs in by_sub.values():
            assert seqs == sorted(seqs)


def test_spawn_and_await_storms_across_threads():
    width = 200 * SCALE

    async def leaf(x):
        await asyncio.sleep(0)
        return x

    async def node(s, x):
        # Each node awaits two leaves: one pinned elsewhere, one unhinted.
        a = s.spawn(leaf(x), hint=x + 1)
        b = s.spawn(leaf(2 * x))
        return await a + await b

    async def main(s):
        total = 0
        for rnd in range(3):
            sps = [s.spawn(node(s, x), hint=x if rnd else None)
                   for x in range(width)]
            total += sum([await sp for sp in sps])
        return total

    with aioloop.Scheduler(threads=N_THREADS) as s:
        assert s.run(main(s)) == 3 * sum(3 * x for x in range(width))


@pytest.mark.parametrize("rounds", [10 * SCALE])
def test_shutdown_racing_submitters_runs_exactly_what_it_accepted(rounds):
    for rnd in range(rounds):
        counts = [0] * N_THREADS        # slot t written by dispatch thread t
        accepted = []

        def tick():
            counts[aioloop.thread_index()] += 1

        s = aioloop.Scheduler(threads=N_THREADS)

        def submit(k):
            n = 0
            try:
                while True:
                    s.sched(tick, hint=None if n % 3 else n)
                    n += 1
            except RuntimeError as e:
                assert "closed" in str(e)
            accepted.append(n)

        async def main():
            producers = [threading.Thread(target=submit, args=(k,)) for k in range(3)]
            for t in producers:
                t.start()
            await asyncio.sleep(random.uniform(0.001, 0.02))
            return producers

        with s:
            producers = s.run(main())
        for t in producers:
            t.join()
        assert len(accepted) == 3
        assert sum(counts) == sum(accepted), (rnd, counts, accepted)
        assert not [t for t in threading.enumerate()
                    if t.name.startswith("aioloop-dispatch")]
