# The Loop class: EventLoopCore (our run cycle, in C) plus the parts of
# asyncio.AbstractEventLoop that asyncio implements portably on any loop.
#
# Those slow-path methods are asyncio's own functions, bound to our class: the
# exception handler's formatting, async generator shutdown, executor shutdown
# and run_until_complete differ between Python versions in small ways (log
# lines, warnings, timeouts), and taking them from the running Python keeps
# every version's behaviour exact. They reach only the attributes that
# EventLoopCore exposes under asyncio's names.

_BEL = _base_events.BaseEventLoop


class Loop(UnixLoop, NetworkMethods, UnixMethods, _asyncio.AbstractEventLoop):
    """An asyncio event loop whose run cycle, ready queue, timer heap, poller
    and thread-safe inbox are written in Cython (see DESIGN.md).

    Use it as any asyncio loop: ``asyncio.run(main(), loop_factory=aioloop.new_event_loop)``,
    ``aioloop.run(main())``, or ``aioloop.install()``. A Loop is used by one
    thread at a time; other threads reach it through call_soon_threadsafe().
    """

    __repr__ = _BEL.__repr__

    run_until_complete = _BEL.run_until_complete
    _check_running = _BEL._check_running
    _check_callback = _BEL._check_callback
    _set_coroutine_origin_tracking = _BEL._set_coroutine_origin_tracking
    set_debug = _BEL.set_debug

    # errors
    set_exception_handler = _BEL.set_exception_handler
    get_exception_handler = _BEL.get_exception_handler
    default_exception_handler = _BEL.default_exception_handler
    call_exception_handler = _BEL.call_exception_handler

    # async generators
    _asyncgen_firstiter_hook = _BEL._asyncgen_firstiter_hook
    _asyncgen_finalizer_hook = _BEL._asyncgen_finalizer_hook
    shutdown_asyncgens = _BEL.shutdown_asyncgens

    # executor: the daemon pool's short path (sched/daemon_pool.pyx)
    run_in_executor = run_in_executor
    set_default_executor = _BEL.set_default_executor
    _check_default_executor = _BEL._check_default_executor
    shutdown_default_executor = _BEL.shutdown_default_executor
    _do_shutdown = _BEL._do_shutdown

    def __init__(self):
        # Python 3.13's create_unix_server records the sockets whose path
        # to unlink at close (cleanup_socket) here.
        self._unix_server_sockets = {}

    def __del__(self, _warn=_warnings.warn):
        if not self.is_closed():
            _warn(f"unclosed event loop {self!r}", ResourceWarning, source=self)
            if not self.is_running():
                self.close()


def new_event_loop():
    """Return a new aioloop Loop (not set as the current loop)."""
    return Loop()
