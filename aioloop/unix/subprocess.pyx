# Subprocesses: the transport behind subprocess_exec()/subprocess_shell()
# (and so asyncio.create_subprocess_exec/_shell).
#
# What is asyncio's and what is ours. The argument checking
# (BaseEventLoop.subprocess_exec/_shell, bound in loop/borrowed.pyx) and the
# transport's bookkeeping (base_subprocess.BaseSubprocessTransport: Popen,
# connecting stdin/stdout/stderr through connect_write_pipe/connect_read_pipe
# with its pipe protocols, connection_made after the pipes, wait(), close()
# killing a child that still runs) are asyncio's loop-agnostic code, taken
# from the running Python so every version behaves as its own asyncio. The
# pipes are our Cython transports (transports/pipes.pyx); the child's exit
# comes from its pidfd on our poller (unix/children.pyx).
#
# Callback order, where we are stricter than asyncio. asyncio documents that
# process_exited() may come before pipe_data_received()/pipe_connection_lost()
# (its child watcher and the pipes race, CPython gh-108973). Here it never
# does: the exit status the kernel gives is held until every pipe has
# reported connection_lost, so a protocol always sees all the output, then
# each pipe_connection_lost, then process_exited, then connection_lost.
# The status is not hidden meanwhile: get_returncode() (Process.returncode)
# has it at once, and wait() returns at the exit even when a grandchild keeps
# a pipe open (asyncio 3.11-3.13 wait for the pipes then, CPython gh-119710).


cdef object _UnixSubprocessTransport = _unix_events._UnixSubprocessTransport
cdef int _SIGTERM = _signal.SIGTERM
cdef int _SIGKILL = _signal.SIGKILL


class SubprocessTransport(_UnixSubprocessTransport):
    """asyncio.SubprocessTransport for a child started by subprocess_exec()
    or subprocess_shell(). Loop thread only."""

    _exit_status = None     # the kernel's status, before process_exited()
    _child_watch = None     # PidfdWatch while the pidfd is ours, else None

    def get_returncode(self):
        """The child's return code as soon as the loop has reaped it
        (negative: killed by that signal), else None."""
        if self._returncode is not None:
            return self._returncode
        return self._exit_status

    def _child_exited(self, returncode):
        # From children.pyx, in the loop thread, once the child is reaped.
        self._child_watch = None
        if self._proc is not None:
            self._proc.returncode = returncode
        if self._returncode is not None or self._exit_status is not None:
            return
        self._exit_status = returncode
        waiters = self._exit_waiters
        if waiters:
            self._exit_waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(returncode)
        self._maybe_report_exit()

    def _pipe_connection_lost(self, fd, exc):
        _UnixSubprocessTransport._pipe_connection_lost(self, fd, exc)
        self._maybe_report_exit()

    def _maybe_report_exit(self):
        if self._exit_status is None or self._returncode is not None:
            return
        if all(p is not None and p.disconnected for p in self._pipes.values()):
            self._process_exited(self._exit_status)

    async def _wait(self):
        """Wait for the child's exit; return its return code."""
        returncode = self.get_returncode()
        if returncode is not None:
            return returncode
        waiter = self._loop.create_future()
        self._exit_waiters.append(waiter)
        return await waiter

    def send_signal(self, signal):
        """Send `signal` to the child. ProcessLookupError once the transport
        has finished; nothing happens if the child has already been reaped
        (its pid may name another process by now)."""
        self._check_proc()
        if self._proc.returncode is not None:
            return
        watch = self._child_watch
        if watch is not None and watch.send_signal(signal):
            return
        try:
            _os.kill(self._proc.pid, signal)
        except ProcessLookupError:
            pass

    def terminate(self):
        self.send_signal(_SIGTERM)

    def kill(self):
        self.send_signal(_SIGKILL)


async def _spawn_subprocess(UnixLoop loop, protocol, args, shell, stdin, stdout,
                            stderr, bufsize, extra, kwargs):
    # unix_events._UnixSelectorEventLoop._make_subprocess_transport, with
    # the child watched by this loop instead of a process-wide watcher.
    loop._check_closed_c()      # before a child exists, not after
    waiter = loop.create_future()
    transp = SubprocessTransport(loop, protocol, args, shell,
                                 stdin, stdout, stderr, bufsize,
                                 waiter=waiter, extra=extra, **kwargs)
    _watch_child(loop, transp._pid, transp._proc, transp._child_exited)
    transp._child_watch = loop._children.get(transp._pid)
    try:
        await waiter
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        transp.close()
        await transp._wait()
        raise
    return transp
