# The Loop class: EventLoopCore's C layers (run cycle, transports, network,
# Unix) plus the parts of asyncio.AbstractEventLoop that asyncio implements
# portably on any loop, bound from the manifest in loop/borrowed.pyx and
# checked there as the module loads.


class Loop(UnixLoop, _asyncio.AbstractEventLoop):
    """An asyncio event loop whose run cycle, ready queue, timer heap, poller
    and thread-safe inbox are written in Cython (see DESIGN.md).

    Use it as any asyncio loop: ``asyncio.run(main(), loop_factory=aioloop.new_event_loop)``,
    ``aioloop.run(main())``, or ``aioloop.install()``. A Loop is used by one
    thread at a time; other threads reach it through call_soon_threadsafe().
    """

    # The daemon pool's short path (sched/daemon_pool.pyx): ours, not asyncio's.
    run_in_executor = run_in_executor

    def __init__(self):
        # Python 3.13's create_unix_server records the sockets whose path
        # to unlink at close (cleanup_socket) here. Every attribute set here
        # is listed in _LOOP_INSTANCE_ATTRS (loop/borrowed.pyx).
        self._unix_server_sockets = {}

    def __del__(self, _warn=_warnings.warn):
        if not self.is_closed():
            _warn(f"unclosed event loop {self!r}", ResourceWarning, source=self)
            if not self.is_running():
                self.close()


_bind_and_verify(Loop, _ASYNCIO_MANIFEST, _LOOP_INSTANCE_ATTRS)


def new_event_loop():
    """Return a new aioloop Loop (not set as the current loop)."""
    return Loop()
