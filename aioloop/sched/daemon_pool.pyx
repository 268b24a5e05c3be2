# The daemon pool: threads that run blocking calls for the loops (libaio's
# "AIO daemons"), and every Loop's default executor.
#
# A call made through run_in_executor(None, ...) takes the short path: one
# asyncio future, one queue entry, and the completion comes back through the
# loop's thread-safe inbox (loop/inbox.pyx) — no concurrent.futures.Future,
# no future chaining, and the inbox writes the loop's eventfd once per sleep,
# so completions that finish while the loop is busy are delivered as a batch.
#
# DaemonPool is a concurrent.futures.ThreadPoolExecutor (submit/map/shutdown
# behave as its), so loop.set_default_executor() accepts it and code that
# expects a ThreadPoolExecutor gets one.
#
# Threads: started lazily, up to max_workers (ThreadPoolExecutor's default),
# when work is queued and no thread is idle. shutdown(wait=True) joins them
# all; Loop.close() calls shutdown(wait=False), as asyncio does, so a thread
# busy in a user's blocking call finishes that call and then exits.
#
# Cross-thread state: the queue is a queue.SimpleQueue (its own lock);
# `_threads`, `_idle` and `_shutdown` are guarded by `_lock`.

import queue as _queue
import concurrent.futures as _cf
import concurrent.futures.thread as _cf_thread
import asyncio.futures as _aio_futures

cdef object _wrap_future = _aio_futures.wrap_future
# concurrent.futures' CancelledError/TimeoutError/InvalidStateError become
# asyncio's, as wrap_future() does for any executor.
cdef object _convert_future_exc = _aio_futures._convert_future_exc


def _complete(fut, result, exc):
    # On the loop's thread. A future cancelled meanwhile keeps its state.
    if fut.cancelled():
        return
    if exc is None:
        fut.set_result(result)
    else:
        fut.set_exception(_convert_future_exc(exc))


class DaemonPool(_cf.ThreadPoolExecutor):
    """A pool of threads for blocking calls; aioloop's default executor.

    ``run_in_executor(None, func, *args)`` on an aioloop Loop uses it without
    concurrent.futures machinery. Any thread may submit; results are
    delivered on the submitting loop's thread."""

    def __init__(self, max_workers=None, thread_name_prefix='aioloop-daemon'):
        super().__init__(max_workers, thread_name_prefix)
        self._work = _queue.SimpleQueue()
        self._lock = _threading.Lock()
        self._idle = 0
        self._pool_threads = []
        self._pool_shutdown = False

    # --- submitting ----------------------------------------------------------

    def _put(self, item):
        with self._lock:
            if self._pool_shutdown:
                raise RuntimeError('cannot schedule new futures after shutdown')
            if _cf_thread._shutdown:
                raise RuntimeError('cannot schedule new futures after '
                                   'interpreter shutdown')
            self._work.put(item)
            if self._idle > 0:
                self._idle -= 1     # that thread will take it
                return
            if len(self._pool_threads) < self._max_workers:
                t = _threading.Thread(
                    target=self._worker,
                    name=f'{self._thread_name_prefix}_{len(self._pool_threads)}')
                t.start()
                self._pool_threads.append(t)

    def _submit_to_loop(self, loop, func, args):
        """Run func(*args) on a pool thread; return an asyncio future of
        `loop`, completed on the loop's thread."""
        fut = loop.create_future()
        self._put((loop, fut, func, args))
        return fut

    def submit(self, fn, /, *args, **kwargs):
        cfut = _cf.Future()
        self._put((None, cfut, fn, (args, kwargs)))
        return cfut

    # --- the worker ----------------------------------------------------------

    def _worker(self):
        work = self._work
        while True:
            item = work.get()
            if item is None:
                return
            loop, fut, func, args = item
            item = None
            if loop is None:
                # concurrent.futures.Future path (submit()).
                if fut.set_running_or_notify_cancel():
                    try:
                        result = func(*args[0], **args[1])
                    except BaseException as exc:
                        fut.set_exception(exc)
                        exc = None
                    else:
                        fut.set_result(result)
            elif not fut.cancelled():
                exc = None
                try:
                    result = func(*args)
                except BaseException as e:
                    result = None
                    exc = e
                try:
                    loop.call_soon_threadsafe(_complete, fut, result, exc)
                except RuntimeError:
                    pass        # the loop closed meanwhile: nobody waits
            loop = fut = func = args = result = exc = None
            with self._lock:
                if self._pool_shutdown:
                    # Work already queued still runs; the sentinels stop us.
                    pass
                self._idle += 1

    # --- shutdown ------------------------------------------------------------

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            already = self._pool_shutdown
            self._pool_shutdown = True
            threads = list(self._pool_threads)
            if not already:
                if cancel_futures:
                    while True:
                        try:
                            item = self._work.get_nowait()
                        except _queue.Empty:
                            break
                        if item is not None:
                            item[1].cancel()
                for _ in threads:
                    self._work.put(None)
        if wait:
            for t in threads:
                t.join()


def run_in_executor(self, executor, func, *args):
    """Run func(*args) in `executor` (None: the loop's default executor, a
    DaemonPool) and return an asyncio future of the result."""
    self._check_closed()
    if self._debug:
        self._check_callback(func, 'run_in_executor')
    if executor is None:
        executor = self._default_executor
        self._check_default_executor()
        if executor is None:
            executor = DaemonPool()
            self._default_executor = executor
    if type(executor) is DaemonPool:
        return executor._submit_to_loop(self, func, args)
    return _wrap_future(executor.submit(func, *args), loop=self)
