"""The order callbacks run in: asyncio's rules exactly (base_events._run_once).

Every test runs on stock asyncio and on aioloop; both must produce the same
trace.
"""

import random

from helpers import run_briefly


def test_call_soon_runs_in_fifo_order(loop):
    trace = []
    for i in range(2000):
        loop.call_soon(trace.append, i)
    run_briefly(loop)
    assert trace == list(range(2000))


def test_call_soon_returns_a_handle_that_can_be_cancelled(loop):
    trace = []
    loop.call_soon(trace.append, "a")
    h = loop.call_soon(trace.append, "b")
    loop.call_soon(trace.append, "c")
    assert h.cancel() is None
    assert h.cancelled()
    run_briefly(loop)
    assert trace == ["a", "c"]


def test_callbacks_scheduled_during_a_pass_wait_for_the_next_pass(loop):
    trace = []

    def a():
        trace.append("a")
        loop.call_soon(trace.append, "a-child")

    loop.call_soon(a)
    loop.call_soon(trace.append, "b")
    run_briefly(loop)
    assert trace == ["a", "b"]
    run_briefly(loop)
    assert trace == ["a", "b", "a-child"]


def test_a_due_timer_joins_the_ready_queue_behind_call_soon(loop):
    trace = []
    loop.call_soon(trace.append, "a")
    loop.call_later(0, trace.append, "b")
    loop.call_soon(trace.append, "c")
    run_briefly(loop)
    assert trace == ["a", "c", "b"]


def test_a_timer_scheduled_during_a_pass_runs_after_call_soon_of_the_same_pass(loop):
    trace = []

    def first():
        trace.append("first")
        loop.call_later(-1, trace.append, "timer")
        loop.call_soon(trace.append, "soon")

    loop.call_soon(first)
    run_briefly(loop, 2)
    assert trace == ["first", "soon", "timer"]


def test_timers_run_in_deadline_order(loop):
    trace = []
    base = loop.time()
    deadlines = [base - 0.5 + i * 0.001 for i in range(200)]
    shuffled = deadlines[:]
    random.Random(7).shuffle(shuffled)
    for when in shuffled:
        loop.call_at(when, trace.append, when)
    run_briefly(loop)
    assert trace == deadlines


def test_future_timers_run_in_deadline_order(loop):
    trace = []
    for delay in (0.03, 0.01, 0.02):
        loop.call_later(delay, trace.append, delay)
    loop.call_later(0.04, loop.stop)
    loop.run_forever()
    assert trace == [0.01, 0.02, 0.03]


def test_stop_before_run_forever_runs_exactly_one_pass(loop):
    trace = []

    def a():
        trace.append("a")
        loop.call_soon(trace.append, "next-pass")

    loop.stop()
    loop.call_soon(a)
    loop.run_forever()
    assert trace == ["a"]
    assert not loop.is_running()


def test_stop_inside_a_callback_finishes_the_current_pass(loop):
    trace = []

    def stopper():
        trace.append("stop")
        loop.stop()

    def b():
        trace.append("b")
        loop.call_soon(trace.append, "later")

    loop.call_soon(stopper)
    loop.call_soon(b)
    loop.run_forever()
    assert trace == ["stop", "b"]
    # The callback b scheduled is still pending and runs on the next run.
    run_briefly(loop)
    assert trace == ["stop", "b", "later"]


def test_stop_is_forgotten_once_run_forever_returns(loop):
    trace = []
    loop.stop()
    loop.run_forever()
    # A fresh run_forever must run until the *next* stop(), not return at once.
    loop.call_soon(trace.append, 1)
    loop.call_soon(lambda: loop.call_soon(trace.append, 2))
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert trace == [1, 2]


def test_stop_called_twice_stops_once(loop):
    trace = []
    loop.call_soon(loop.stop)
    loop.call_soon(loop.stop)
    loop.call_soon(lambda: loop.call_soon(trace.append, "next"))
    loop.run_forever()
    assert trace == []
    run_briefly(loop)
    assert trace == ["next"]


def test_cancelled_callback_is_skipped_even_when_cancelled_by_an_earlier_callback(loop):
    trace = []
    handles = {}

    def a():
        trace.append("a")
        handles["b"].cancel()
        handles["t"].cancel()

    loop.call_soon(a)
    handles["b"] = loop.call_soon(trace.append, "b")
    handles["t"] = loop.call_later(-1, trace.append, "t")
    loop.call_soon(trace.append, "c")
    run_briefly(loop, 2)
    assert trace == ["a", "c"]


def test_timer_cancelled_by_a_timer_due_in_the_same_pass_does_not_run(loop):
    trace = []
    now = loop.time()
    handles = {}

    def first():
        trace.append("first")
        handles["second"].cancel()

    loop.call_at(now - 2, first)
    handles["second"] = loop.call_at(now - 1, trace.append, "second")
    loop.call_at(now - 0.5, trace.append, "third")
    run_briefly(loop)
    assert trace == ["first", "third"]


def test_call_soon_threadsafe_on_the_loop_thread_keeps_fifo_with_call_soon(loop):
    trace = []

    def start():
        loop.call_soon(trace.append, "a")
        loop.call_soon_threadsafe(trace.append, "b")
        loop.call_soon(trace.append, "c")

    loop.call_soon(start)
    run_briefly(loop, 2)
    assert trace == ["a", "b", "c"]


def test_call_soon_threadsafe_before_run_keeps_fifo_with_call_soon(loop):
    # Scheduling from the thread that will run the loop, before it runs (the
    # usual set-up code): one FIFO, whichever of the two methods is used.
    trace = []
    loop.call_soon(trace.append, "a")
    loop.call_soon_threadsafe(trace.append, "b")
    loop.call_soon(trace.append, "c")
    loop.call_later(-1, trace.append, "timer")
    run_briefly(loop)
    assert trace == ["a", "b", "c", "timer"]


def test_callbacks_left_after_a_run_stay_ahead_of_later_ones(loop):
    trace = []
    loop.call_soon(lambda: loop.call_soon(trace.append, "left-over"))
    run_briefly(loop)
    loop.call_soon(trace.append, "new")
    loop.call_soon_threadsafe(trace.append, "new-threadsafe")
    run_briefly(loop)
    assert trace == ["left-over", "new", "new-threadsafe"]


class _RandomProgram:
    """A seeded program of call_soon / call_at / call_later / cancel.

    Each callback records its id, then draws the next operations from the
    shared RNG: on two loops with asyncio's ordering the callbacks run in the
    same order, so the RNG is consumed identically and the traces match; the
    first difference in order makes the rest diverge.

    Every deadline is in the past (so "is it due yet?" never depends on the
    wall clock) and all deadlines are distinct (equal deadlines are unordered
    in asyncio). call_at deadlines are drawn from a range far below the
    call_later ones, and call_later delays are a second apart, so the order of
    two deadlines never depends on when the call was made. Some timers are
    far in the future: they never run and most are cancelled.
    """

    def __init__(self, loop, seed, budget):
        self.loop = loop
        self.rng = random.Random(seed)
        self.budget = budget
        self.trace = []
        self.pending = {}     # id -> handle, for callbacks that can still run
        self.far = {}         # id -> handle of far-future timers
        self.next_id = 0
        self.base = loop.time()
        self.at_offsets = self.rng.sample(range(1, 10**6), 4 * budget)
        self.later_offsets = self.rng.sample(range(1, 10**6), 4 * budget)

    def _new_id(self):
        self.next_id += 1
        return self.next_id

    def schedule(self):
        loop, rng = self.loop, self.rng
        op = rng.random()
        i = self._new_id()
        if op < 0.35:
            self.pending[i] = loop.call_soon(self.step, i)
        elif op < 0.55:
            when = self.base - 2e6 + self.at_offsets.pop()
            self.pending[i] = loop.call_at(when, self.step, i)
        elif op < 0.75:
            delay = -1e6 - self.later_offsets.pop()
            self.pending[i] = loop.call_later(delay, self.step, i)
        elif op < 0.80:
            self.pending[i] = loop.call_soon_threadsafe(self.step, i)
        elif op < 0.85:
            self.far[i] = loop.call_at(self.base + 1e6 + i, self.step, i)
        else:
            victims = sorted(self.pending) + sorted(self.far)
            if victims:
                v = victims[rng.randrange(len(victims))]
                handle = self.pending.pop(v, None) or self.far.pop(v)
                handle.cancel()
                self.trace.append(("cancel", v))

    def step(self, i):
        del self.pending[i]
        self.trace.append(i)
        if self.budget > 0:
            for _ in range(self.rng.randrange(1, 4)):
                self.budget -= 1
                self.schedule()
        if not self.pending:
            self.loop.stop()

    def run(self):
        for _ in range(10):
            self.budget -= 1
            self.schedule()
        if not self.pending:
            self.pending[0] = self.loop.call_soon(self.step, 0)
        self.loop.run_forever()
        for handle in self.far.values():
            handle.cancel()
        return self.trace


def test_random_program_trace_equals_stock_asyncio(loop_factory):
    import asyncio

    def trace_on(factory, seed):
        lp = factory()
        try:
            return _RandomProgram(lp, seed, budget=3000).run()
        finally:
            lp.close()

    for seed in (1, 2, 3):
        expected = trace_on(asyncio.SelectorEventLoop, seed)
        assert len(expected) > 1000
        got = trace_on(loop_factory, seed)
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b),
                      min(len(got), len(expected)))
            raise AssertionError(
                f"seed {seed}: traces differ from entry {at}: "
                f"got {got[at:at + 5]}, asyncio {expected[at:at + 5]}")
