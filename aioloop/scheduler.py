"""The Scheduler: N dispatch threads, each running its own aioloop Loop.

This is the Python half of the multi-core layer; the run queues, stealing
and wake-ups are in C (aioloop/sched/runqueue.pyx, sched/dispatch.pyx).

Placement (the contract users rely on)
    - ``hint=h`` runs the work on dispatch thread ``h % N``, always: hinted
      work goes to that loop's inbox and is never stolen.
    - Unhinted work from a dispatch thread goes to that thread's run queue;
      from any other thread, to the least-loaded thread's queue. A dispatch
      thread about to sleep steals half of the longest sibling queue of work
      that has not started. A coroutine becomes an asyncio Task on the thread
      that starts it and never moves (Tasks and Futures are bound to a loop).
    - Per-submitter FIFO order holds for work that is not stolen.
    - Each pass of a loop takes a bounded batch from its inbox and from its
      run queue, so I/O and timers are served between batches of a flood.

Threads and loops
    Thread 0 is the thread that runs loop 0 (``Scheduler.run``, or
    ``asyncio.run`` on ``new_event_loop(threads=N)``); threads 1..N-1 start
    when loop 0 starts running. In each dispatch thread the running loop is
    that thread's own Loop. A dispatch loop refuses ``call_soon`` and
    ``call_later`` from a thread other than its own (RuntimeError naming
    call_soon_threadsafe), on every build.

Thread contract of this module's shared state
    Scheduler._lock guards _state, _threads (start/join), _failure, _dead
    and _drain_waiters.
    Spawned._lock guards every field of a Spawned but _coro (touched by the
    starting thread only, or by cancel() before anyone could start it, which
    the state under the lock decides) and _sched (immutable).
    Everything else a thread reaches is either immutable after __init__ or
    owned by one loop's thread.

Shutdown protocol
    Invariant: every accepted submission either runs or its submitter is
    told (its Spawned is cancelled; a ``sched`` after shutdown began raises
    RuntimeError('scheduler is closed')); afterwards no dispatch thread is
    alive, every loop is closed, every task was cancelled and finished as
    asyncio.run does for its own, async generators were shut down and the
    daemon pool drained.
    Steps (loop 0's shutdown_default_executor(), which asyncio.run and
    asyncio.Runner await after cancelling loop 0's tasks and before close):
      1. refuse new submissions and stop stealing (SchedCore.close);
      2. every loop, concurrently and while all of them still run, runs its
         queued work (unstarted Spawned are cancelled, never started), then
         cancels its tasks and waits for them, until none is left, then
         shuts down its async generators;
      3. the daemon pool finishes running jobs and cancels queued ones,
         while the loops still run to deliver those completions;
      4. loops 1..N-1 are stopped, each two passes after it takes the
         stop request, as asyncio.run stops loop 0 two passes after the
         pool's end (see _stop_after_delivery); each thread closes its own
         loop and ends; thread 0 joins them; loop 0 is closed by its owner's
         close().
    Why it holds: step 1 bounds the work (nothing new is accepted, and the
    queues only shrink because nothing moves between them); step 2 runs while
    every loop still runs, so a task on one loop that waits for work on
    another (a Spawned, a lock hand-off) is resumed; step 3 comes after the
    loops' tasks finished, so no task waits on the pool any more, and before
    the loops stop, so the pool's completions and cancellations are
    delivered, done callbacks included: step 4 posts the stop requests after
    the pool is joined, behind its last completion in each FIFO inbox. close()
    without that coroutine (loop 0 closed without asyncio.run) does the same
    synchronously: loop 0 no longer runs, so awaiters of work on loop 0 are
    cancelled at once instead of waiting for it, and loop 0's unstarted
    Spawned are cancelled.
    A BaseException escaping a dispatch thread (SystemExit,
    KeyboardInterrupt, a crash of the loop) is handed to loop 0, which
    raises it (SystemExit and KeyboardInterrupt as they are, anything else
    wrapped in DispatchThreadError) so that Scheduler.run()/asyncio.run end
    with it after the shutdown above.
"""

import asyncio as _asyncio
import inspect as _inspect
import logging as _logging
import threading as _threading
import time as _time
import types as _types
from asyncio import events as _events

from . import _core

__all__ = ("Scheduler", "Spawned", "DispatchThreadError", "spawn", "sched",
           "current_scheduler", "thread_index")

_logger = _logging.getLogger("aioloop")
# asyncio.Task(eager_start=) exists from 3.12.
_EAGER = "eager_start" in _inspect.signature(_asyncio.Task).parameters
_get_running_loop = _events._get_running_loop

_WRONG_LOOP_NOTE = (
    "aioloop: this work ran on dispatch thread {index}, which runs its own "
    "event loop. Objects bound to a loop (asyncio.Lock/Queue/Event, a "
    "ClientSession, a connection pool) cannot be used from another loop: "
    "share through aioloop's cross-thread primitives, keep one such "
    "resource per dispatch thread, or pin the work with hint=.")


class DispatchThreadError(_core.LoopExit):
    """An exception that is not SystemExit or KeyboardInterrupt escaped a
    dispatch thread's loop (a crash of the loop itself); the scheduler was
    shut down. The original exception is ``__cause__``."""


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_hint(hint):
    if hint is not None and (isinstance(hint, bool) or not isinstance(hint, int)):
        raise TypeError(f"hint must be an int or None, got {type(hint).__name__}")


# --- Spawned ----------------------------------------------------------------

_PENDING, _RUNNING, _DONE = 0, 1, 2


class _SpawnedWaiter(_asyncio.Future):
    """The future an ``await spawned`` suspends on, on the awaiter's loop.

    Cancelling it (the awaiting task was cancelled) cancels the Spawned and
    keeps waiting for it to finish, exactly as a Task awaiting a Task does:
    if the spawned work swallows the cancellation, the awaiter gets its
    result."""

    def __init__(self, spawned, loop):
        super().__init__(loop=loop)
        self._spawned = spawned

    def _wake(self, _spawned):
        if not self.done():
            self.set_result(None)

    def cancel(self, msg=None):
        if self.done():
            return False
        sp = self._spawned
        if sp._cannot_finish():
            # Its loop will not run again (a synchronous close): do not wait.
            sp.cancel(msg)
            return super().cancel(msg)
        return sp.cancel(msg)


class Spawned:
    """A coroutine spawned on a Scheduler (or on a plain loop).

    ``await spawned`` from any loop returns its result or raises its
    exception, resuming the awaiter on its own loop; ``result(timeout)`` and
    ``exception(timeout)`` wait from a plain thread; ``cancel(msg)`` works
    from any thread and cancels the Task on its own loop. Callbacks added
    with ``add_done_callback`` run on the loop of the thread that added them,
    or, added from a thread without a running loop, in the thread that
    completes the Spawned (as concurrent.futures does)."""

    __slots__ = ("_lock", "_sched", "_coro", "_name", "_state", "_task",
                 "_loop", "_thread", "_result", "_exception", "_cancelled",
                 "_cancel_requested", "_cancel_msg", "_callbacks", "_event",
                 "_handle", "_retrieved", "__weakref__")

    def __init__(self, coro, name, sched):
        self._lock = _threading.Lock()
        self._sched = sched
        self._coro = coro
        self._name = name
        self._state = _PENDING
        self._task = None
        self._loop = None
        self._thread = None
        self._result = None
        self._exception = None
        self._cancelled = False
        self._cancel_requested = False
        self._cancel_msg = None
        # () until a callback is added: most Spawned never get one, and an
        # empty tuple is shared and not tracked by the collector.
        self._callbacks = ()
        self._event = None
        self._handle = None
        self._retrieved = False

    def __repr__(self):
        state = ("pending", "running", "done")[self._state]
        if self._cancelled:
            state = "cancelled"
        name = self._name or getattr(self._coro, "__qualname__", None)
        where = "" if self._thread is None else f" thread={self._thread}"
        return f"<aioloop.Spawned {state} {name!s}{where}>"

    def __del__(self):
        if self._exception is not None and not self._retrieved:
            loop = self._loop
            ctx = {"message": "Spawned task exception was never retrieved",
                   "exception": self._exception, "spawned": self}
            if loop is not None and not loop.is_closed():
                loop.call_exception_handler(ctx)
            else:
                _logger.error(ctx["message"], exc_info=self._exception)

    # -- the starting side (the loop that takes the work) --

    def _start(self):
        loop = _get_running_loop()
        with self._lock:
            if self._state != _PENDING:
                return                  # cancelled before it started
            if self._sched is not None and self._sched._core.is_closed():
                coro, self._coro = self._coro, None
                closing = True
            else:
                closing = False
                self._state = _RUNNING
                self._loop = loop
                self._thread = getattr(loop, "_aioloop_index", 0)
        if closing:
            # Accepted before the shutdown began, not started: its
            # submitter is told by a cancellation.
            coro.close()
            self._finish(_asyncio.CancelledError("scheduler is closing"),
                         None, None)
            return
        coro, self._coro = self._coro, None
        if self._sched is not None:
            self._sched._count_start(self._thread)
        if _EAGER and self._sched is not None and loop.get_task_factory() is None:
            # The first step runs now, in the pass that took this work from
            # the run queue. Started lazily, a Task would only be queued here
            # and a loop would turn its whole run queue into Tasks (which can
            # no longer be stolen) in a few quick passes, before any of them
            # ran: a few long tasks spawned together then all stayed on the
            # thread that spawned them. Eagerly, a pass takes its batch and
            # is busy running it while idle siblings steal the rest.
            task = _asyncio.Task(coro, loop=loop, name=self._name, eager_start=True)
        else:
            task = loop.create_task(coro, name=self._name)
        task.add_done_callback(self._task_done)
        with self._lock:
            self._task = task
            cancel = self._cancel_requested
            msg = self._cancel_msg
        if cancel:
            task.cancel(msg)

    def _task_done(self, task):
        if task.cancelled():
            try:
                task.result()
            except _asyncio.CancelledError as e:
                self._finish(e, None, None)
            return
        exc = task.exception()
        if exc is not None:
            if isinstance(exc, RuntimeError) and self._sched is not None and (
                    "different loop" in str(exc) or
                    "different event loop" in str(exc)):
                exc.add_note(_WRONG_LOOP_NOTE.format(index=self._thread))
            self._finish(None, None, exc)
        else:
            self._finish(None, task.result(), None)

    def _finish(self, cancelled_error, result, exc):
        with self._lock:
            if self._state == _DONE:
                return
            self._state = _DONE
            if cancelled_error is not None:
                self._cancelled = True
                self._exception = cancelled_error
                self._retrieved = True      # never reported as unretrieved
            else:
                self._result = result
                self._exception = exc
            callbacks, self._callbacks = self._callbacks, None
            event = self._event
        if event is not None:
            event.set()
        for fn, loop, ctx in callbacks:
            self._deliver(fn, loop, ctx)

    def _deliver(self, fn, loop, ctx):
        if loop is None:
            try:
                if ctx is None:
                    fn(self)
                else:
                    ctx.run(fn, self)
            except Exception:
                _logger.exception("exception calling callback for %r", self)
            return
        try:
            if _get_running_loop() is loop:
                loop.call_soon(fn, self, context=ctx)
            else:
                loop.call_soon_threadsafe(fn, self, context=ctx)
        except RuntimeError:
            _logger.warning("done callback %r of %r not run: its loop %r is "
                            "closed", fn, self, loop)

    def _cannot_finish(self):
        loop = self._loop
        if loop is not None and (loop.is_closed() or not loop.is_running()):
            return True
        s = self._sched
        return s is not None and s._hard_close

    # -- any thread --

    def done(self):
        return self._state == _DONE

    def cancelled(self):
        return self._cancelled

    @property
    def thread(self):
        """The index of the dispatch thread it runs (ran) on, or None if it
        has not started."""
        return self._thread

    def cancel(self, msg=None):
        """Request cancellation; False if it is already done. Not started,
        it never starts; running, its Task is cancelled on its own loop."""
        with self._lock:
            state = self._state
            if state == _DONE:
                return False
            if state == _RUNNING:
                task = self._task
                loop = self._loop
                if task is None:        # between _start's two critical sections
                    self._cancel_requested = True
                    self._cancel_msg = msg
                    return True
            else:
                coro, self._coro = self._coro, None
                handle = self._handle
        if state == _PENDING:
            if handle is not None:
                handle.cancel()
            if coro is not None:
                coro.close()
            err = (_asyncio.CancelledError() if msg is None
                   else _asyncio.CancelledError(msg))
            self._finish(err, None, None)
            return True
        if _get_running_loop() is loop:
            task.cancel(msg)
        else:
            try:
                loop.call_soon_threadsafe(task.cancel, msg)
            except RuntimeError:
                return False            # its loop is closed: it is over
        return True

    def add_done_callback(self, fn, *, context=None):
        loop = _get_running_loop()
        if context is None and loop is not None:
            import contextvars
            context = contextvars.copy_context()
        with self._lock:
            if self._state != _DONE:
                if self._callbacks:
                    self._callbacks.append((fn, loop, context))
                else:
                    self._callbacks = [(fn, loop, context)]
                return
        self._deliver(fn, loop, context)

    def remove_done_callback(self, fn):
        with self._lock:
            if self._callbacks is None:
                return 0
            kept = [c for c in self._callbacks if c[0] != fn]
            n = len(self._callbacks) - len(kept)
            self._callbacks = kept
            return n

    def _wait(self, timeout):
        with self._lock:
            if self._state == _DONE:
                return
            if _get_running_loop() is not None:
                raise RuntimeError(
                    "Spawned.result() would block the event loop running in "
                    "this thread; use 'await spawned' instead")
            if self._event is None:
                self._event = _threading.Event()
            event = self._event
        if not event.wait(timeout):
            raise TimeoutError()

    def _outcome(self):
        # Called when done.
        self._retrieved = True
        if self._cancelled:
            raise self._exception
        if self._exception is not None:
            raise self._exception
        return self._result

    def result(self, timeout=None):
        """Wait (from a thread without a running loop) and return the result
        or raise its exception; TimeoutError after `timeout` seconds."""
        self._wait(timeout)
        return self._outcome()

    def exception(self, timeout=None):
        self._wait(timeout)
        self._retrieved = True
        if self._cancelled:
            raise self._exception
        return self._exception

    def __await__(self):
        if self._state != _DONE:
            loop = _events.get_running_loop()
            waiter = _SpawnedWaiter(self, loop)
            self.add_done_callback(waiter._wake, context=None)
            yield from waiter
        return self._outcome()

    __iter__ = __await__

    # Spawned[int] in an annotation, as asyncio.Future[int] (the stubs make
    # it generic in its result).
    __class_getitem__ = classmethod(_types.GenericAlias)


def _start_spawned(sp):
    sp._start()


def _spawn_on_plain_loop(loop, coro, name, context):
    sp = Spawned(coro, name, None)
    sp._handle = loop.call_soon(_start_spawned, sp, context=context)
    return sp


def _check_coro(coro):
    if not _asyncio.iscoroutine(coro):
        raise TypeError(f"spawn() needs a coroutine, got {type(coro).__name__}")


# --- the dispatch loops ----------------------------------------------------

class _DispatchLoop(_core.Loop):
    """A Loop that is one dispatch thread's loop of a Scheduler."""

    def run_forever(self):
        s = self._aioloop_sched
        if self._aioloop_index == 0:
            s._start_threads()
        return super().run_forever()

    async def shutdown_default_executor(self, timeout=None):
        if self._aioloop_index == 0:
            await self._aioloop_sched._shutdown()

    def close(self):
        if self._aioloop_index == 0 and not self.is_closed():
            self._aioloop_sched._close_sync()
        super().close()

    def __repr__(self):
        return (f"<aioloop dispatch loop {self._aioloop_index} of "
                f"{self._aioloop_sched._n} running={self.is_running()} "
                f"closed={self.is_closed()} debug={self.get_debug()}>")


def _raise(exc):
    raise exc


def _set_once(fut):
    if not fut.done():
        fut.set_result(None)


def _stop_after_delivery(loop):
    # Step 4 of the shutdown, on dispatch loop i (i > 0). The pool was joined
    # before this was posted, so every completion or cancellation it posted
    # to this loop came before this in the loop's FIFO inbox: this pass (or
    # an earlier one) ran it, and the future's done callbacks are queued for
    # the next pass. stop() here would end run_forever() after this pass and
    # close() would drop them. So the loop stops two passes later, as
    # asyncio.run stops loop 0 after shutdown_default_executor(): the pass
    # after the pool's end wakes the awaiting task, and the one after that
    # runs run_until_complete's stop. Invariant: what the pool's deliveries
    # schedule, and what that schedules in turn, runs on every loop, as on
    # loop 0 under stock asyncio.
    loop.call_soon(loop.call_soon, loop.stop)


# --- the Scheduler -----------------------------------------------------------

# sched(fn, /, *args, hint=None, context=None) is inherited from
# _core.SchedulerBase: the whole submission path is in C (SchedCore.sched in
# sched/dispatch.pyx), one call from the caller's frame.
class Scheduler(_core.SchedulerBase):
    """N dispatch threads, each running one aioloop Loop, and one daemon pool.

    ``with Scheduler(threads=4) as s: s.run(main())`` runs main on loop 0 in
    the calling thread and starts threads 1..3 when it starts; every exit
    shuts the scheduler down (see the module documentation). ``max_pending``
    bounds each thread's run queue: past it, a plain thread's ``sched`` or
    ``spawn`` waits for space and a dispatch thread's raises RuntimeError."""

    def __init__(self, threads=1, daemons=None, *, max_pending=None):
        self._n = _check_count("threads", threads)
        if daemons is not None:
            _check_count("daemons", daemons)
        if max_pending is not None:
            _check_count("max_pending", max_pending)
        self._core = _core.SchedCore(self._n, max_pending or 0)
        self._pool = _core.DaemonPool(daemons)
        self._lock = _threading.Lock()
        self._state = "new"         # new -> started -> closing -> closed
        self._hard_close = False
        self._failure = None
        self._dead = set()          # threads whose loop stopped for good
        self._drain_waiters = {}    # thread index -> loop 0 future
        self._threads = [None] * self._n
        self._starts = [0] * self._n    # element i written by thread i only
        self._loops = []
        for i in range(self._n):
            loop = _DispatchLoop()
            loop._aioloop_sched = self
            loop._aioloop_index = i
            loop._default_executor = self._pool
            self._core.attach(loop, i)
            self._loops.append(loop)

    def __repr__(self):
        return f"<aioloop.Scheduler threads={self._n} {self._state}>"

    # -- introspection --

    @property
    def threads(self):
        """The number of dispatch threads."""
        return self._n

    @property
    def loops(self):
        """The dispatch loops, by thread index (loop 0 runs in the thread
        that runs the scheduler)."""
        return tuple(self._loops)

    def stats(self):
        """Per thread: callbacks run, tasks started, submitted from outside,
        taken from its queue, stolen, steals attempted (by a loop about to
        sleep while some sibling's queue held work), sleeps, inbox wake-ups;
        and the totals."""
        per = []
        for i, loop in enumerate(self._loops):
            ls = loop.stats()
            cs = self._core.stats(i)
            per.append({
                "callbacks": ls["callbacks"],
                "tasks_started": self._starts[i],
                "submitted_outside": cs["submitted_outside"],
                "taken": cs["taken"],
                "stolen": cs["stolen"],
                "steal_attempts": cs["steal_attempts"],
                "sleeps": cs["sleeps"],
                "wakeups": ls["inbox_wakeups"],
                "queued": cs["queued"],
            })
        total = {k: sum(p[k] for p in per) for k in per[0]}
        return {"threads": per, "total": total}

    def set_exception_handler(self, handler):
        """Set the exception handler of every dispatch loop."""
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        for loop in self._loops:
            if loop.is_running() and _get_running_loop() is not loop:
                loop.call_soon_threadsafe(loop.set_exception_handler, handler)
            else:
                loop.set_exception_handler(handler)

    # -- submission --

    def spawn(self, coro, *, hint=None, name=None, context=None):
        """Run coroutine `coro` as a Task on a dispatch thread (``hint %
        threads`` if given) from any thread; returns its Spawned."""
        _check_hint(hint)
        _check_coro(coro)
        sp = Spawned(coro, name, self)
        try:
            sp._handle = self._core.submit(_start_spawned, (sp,), hint, context)
        except BaseException:
            sp._coro = None
            coro.close()
            raise
        return sp

    def _count_start(self, index):
        self._starts[index] += 1

    # -- running --

    def run(self, main, *, debug=None):
        """Run coroutine `main` on loop 0 in this thread, as asyncio.run
        does, and shut the scheduler down at the end."""
        if self._state != "new":
            raise RuntimeError(f"this Scheduler cannot run: it is {self._state}")
        with _asyncio.Runner(debug=debug, loop_factory=self._loop0) as runner:
            return runner.run(main)

    def _loop0(self):
        return self._loops[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Shut down (if not done) and close every loop; joins every thread."""
        loop0 = self._loops[0]
        if not loop0.is_closed():
            if loop0.is_running():
                raise RuntimeError("cannot close a running Scheduler")
            loop0.close()

    def _start_threads(self):
        with self._lock:
            if self._state != "new":
                return
            self._state = "started"
            if self._n > 1 and _threading.current_thread() is _threading.main_thread():
                # A signal the kernel hands to a dispatch thread must still
                # wake loop 0, where Python runs signal handlers.
                self._loops[0]._wake_on_every_signal()
            for i in range(1, self._n):
                t = _threading.Thread(target=self._thread_main, args=(i,),
                                      name=f"aioloop-dispatch-{i}", daemon=True)
                self._threads[i] = t
                t.start()

    def _thread_main(self, i):
        loop = self._loops[i]
        _events.set_event_loop(loop)
        try:
            try:
                loop.run_forever()
                if not getattr(loop, "_aioloop_drained", False):
                    loop.run_until_complete(self._drain(i))
            except BaseException as exc:
                self._thread_failed(i, exc)
        finally:
            with self._lock:
                self._dead.add(i)
                waiter = self._drain_waiters.pop(i, None)
            if waiter is not None:
                try:
                    self._loops[0].call_soon_threadsafe(_set_once, waiter)
                except RuntimeError:
                    pass
            loop._default_executor = None   # the shared pool is not its own
            try:
                loop.close()
            finally:
                _events.set_event_loop(None)

    def _thread_failed(self, i, exc):
        with self._lock:
            self._dead.add(i)       # its loop no longer runs: never waited for
            first = self._failure is None
            if first:
                self._failure = exc
        if not first:
            return
        if not isinstance(exc, (SystemExit, KeyboardInterrupt)):
            err = DispatchThreadError(f"dispatch thread {i} failed: {exc!r}")
            err.__cause__ = exc
            exc = err
        try:
            self._loops[0].call_soon_threadsafe(_raise, exc)
        except RuntimeError:
            pass    # loop 0 is closed: run() has ended already

    # -- shutdown --

    async def _drain(self, i, keep=()):
        """On loop i: run its queued work, then cancel its tasks (but those in
        `keep`)
        until none is left, as asyncio.run does, then shut its async
        generators down."""
        loop = self._loops[i]
        me = _asyncio.current_task()
        # Accepted work first: its queue, and hinted work in its inbox (no
        # new submission arrives now; see _close_submissions).
        while self._core.queued(i) or loop.stats()["inbox"]:
            await _asyncio.sleep(0)
        while True:
            tasks = [t for t in _asyncio.all_tasks(loop)
                     if t is not me and t not in keep]
            if not tasks:
                break
            for t in tasks:
                t.cancel()
            results = await _asyncio.gather(*tasks, return_exceptions=True)
            for t, r in zip(tasks, results):
                if isinstance(r, BaseException) and not isinstance(
                        r, _asyncio.CancelledError):
                    loop.call_exception_handler({
                        "message": "unhandled exception during scheduler shutdown",
                        "exception": r,
                        "task": t,
                    })
        await loop.shutdown_asyncgens()
        loop._aioloop_drained = True

    async def _drain_remote(self, i):
        # Runs on loop 0: start loop i's drain there and wait for it here,
        # or for its thread's end, whichever comes first.
        loop0 = self._loops[0]
        done = loop0.create_future()
        with self._lock:
            if i in self._dead:
                return
            self._drain_waiters[i] = done

        def finished(_task):
            loop0.call_soon_threadsafe(_set_once, done)

        def start():
            self._loops[i].create_task(self._drain(i)).add_done_callback(finished)

        try:
            self._loops[i].call_soon_threadsafe(start)
        except RuntimeError:
            return          # its loop is closed (its thread failed)
        await done

    async def _shutdown(self):
        with self._lock:
            if self._state in ("closing", "closed"):
                return
            self._state = "closing"
        self._close_submissions()
        loop0 = self._loops[0]
        # Every loop drains at once, while all of them run (loop 0's drain
        # inline, so that it keeps this task and the remote waits).
        with self._lock:
            live = [i for i in range(1, self._n)
                    if self._threads[i] is not None and i not in self._dead]
        others = {loop0.create_task(self._drain_remote(i)) for i in live}
        await self._drain(0, others)
        if others:
            await _asyncio.wait(others)
        # The daemon pool last, while every loop still runs to deliver what
        # it completes or cancels; joined in a thread of its own.
        pool_done = loop0.create_future()

        def shut_pool():
            try:
                self._pool.shutdown(wait=True, cancel_futures=True)
            finally:
                loop0.call_soon_threadsafe(pool_done.set_result, None)

        _threading.Thread(target=shut_pool, name="aioloop-pool-shutdown").start()
        await pool_done
        self._stop_and_join()

    def _close_submissions(self):
        # Step 1 of the shutdown: refuse submissions, release producers
        # blocked on a full queue (they raise), then wait for those between
        # their check and their enqueue. That window holds no lock and no
        # wait, so this yields the CPU a few times at most.
        self._core.close()
        self._core.close_queues()
        while self._core.inflight_count():
            _time.sleep(0)

    def _stop_and_join(self):
        for i in range(1, self._n):
            t = self._threads[i]
            if t is None:
                continue
            try:
                self._loops[i].call_soon_threadsafe(_stop_after_delivery,
                                                    self._loops[i])
            except RuntimeError:
                pass        # closed already: its thread is ending
            t.join()
        self._core.close_queues()
        with self._lock:
            self._state = "closed"

    def _close_sync(self):
        # loop 0 is being closed without _shutdown() having run.
        with self._lock:
            state = self._state
            if state == "closed":
                return
            self._state = "closing"
        self._close_submissions()
        self._hard_close = True
        for i in range(1, self._n):
            if self._threads[i] is None:
                # Never started: its queued work and inbox are dropped with it;
                # unstarted Spawned are told.
                self._cancel_queued(i)
                self._loops[i]._default_executor = None
                self._loops[i].close()
        self._cancel_queued(0)
        if state == "started":
            # Threads drain themselves after stop(), in _thread_main.
            for i in range(1, self._n):
                t = self._threads[i]
                if t is not None:
                    try:
                        self._loops[i].call_soon_threadsafe(self._loops[i].stop)
                    except RuntimeError:
                        pass
                    t.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._core.close_queues()
        with self._lock:
            self._state = "closed"
        self._loops[0]._default_executor = None

    def _cancel_queued(self, i):
        for h in self._core.take_all(i):
            if h._callback is _start_spawned:
                h._args[0].cancel("scheduler closed before it started")
            elif not h.cancelled():
                _logger.warning("%r dropped: the scheduler was closed before "
                                "it ran", h)

    # -- sharded servers --

    async def create_server(self, protocol_factory, host=None, port=None,
                            **kwargs):
        """One SO_REUSEPORT listening socket per dispatch loop, each serving
        the connections it accepts; returns a server with asyncio.Server's
        interface. Await it on any loop of this scheduler."""
        from ._sharded import create_sharded_server
        return await create_sharded_server(self, protocol_factory, host, port,
                                           kwargs)

    async def start_server(self, client_connected_cb, host=None, port=None,
                           **kwargs):
        """asyncio.start_server, sharded as create_server()."""
        from ._sharded import create_sharded_server, stream_factory
        limit = kwargs.pop("limit", 2 ** 16)
        return await create_sharded_server(
            self, stream_factory(client_connected_cb, limit), host, port,
            kwargs)


# --- module-level entry points ------------------------------------------------

def current_scheduler():
    """The Scheduler whose dispatch thread this is, or None."""
    loop = _get_running_loop()
    return getattr(loop, "_aioloop_sched", None) if loop is not None else None


def thread_index():
    """This dispatch thread's index in its Scheduler, or None outside one."""
    loop = _get_running_loop()
    return getattr(loop, "_aioloop_index", None) if loop is not None else None


def spawn(coro, *, hint=None, name=None, context=None):
    """Spawn `coro` on the current scheduler (from a dispatch thread) or, on
    a plain running loop, on that loop. Returns a Spawned."""
    _check_hint(hint)
    _check_coro(coro)
    loop = _get_running_loop()
    s = getattr(loop, "_aioloop_sched", None) if loop is not None else None
    if s is not None:
        return s.spawn(coro, hint=hint, name=name, context=context)
    if loop is None:
        coro.close()
        raise RuntimeError("aioloop.spawn() needs a running loop; from a plain "
                           "thread use Scheduler.spawn()")
    return _spawn_on_plain_loop(loop, coro, name, context)


# sched(fn, /, *args, hint=None, context=None): the current scheduler's
# sched() from a dispatch thread, call_soon on a plain running loop; in C
# (sched/dispatch.pyx), as Scheduler.sched.
sched = _core.sched


def new_scheduler_loop(threads, daemons):
    """Loop 0 of a new Scheduler (threads > 1), or a plain Loop."""
    _check_count("threads", threads)
    if threads == 1:
        loop = _core.Loop()
        if daemons is not None:
            _check_count("daemons", daemons)
            loop.set_default_executor(_core.DaemonPool(daemons))
        return loop
    return Scheduler(threads, daemons)._loops[0]
