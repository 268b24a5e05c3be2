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
# Callback order. process_exited() is the protocol's signal that the child
# has gone, as on asyncio, so it must not wait for the pipes: a grandchild
# may hold stdout (or stdin) open long after the child exited, and protocols
# such as anyio's report the exit from process_exited(). asyncio calls it as
# soon as its child watcher sees the exit, and documents that it may then
# come before pipe_data_received()/pipe_connection_lost() (CPython
# gh-108973). Here, when the child is reaped, each pipe first delivers what
# the kernel already holds for it (PipeTransport._settle: the exited child's
# output is all in the pipe, and EOF or the reader's close is there unless
# another process holds the other end). If that ends every pipe, their
# pipe_connection_lost() calls come first, then process_exited(), then
# connection_lost(): the usual case, where a protocol sees all the output
# before the exit. If a pipe stays open (a grandchild holds it, or reading
# is paused), process_exited() follows at once, after the output read so
# far, and that pipe's data and pipe_connection_lost() come when they come.
# get_returncode() (Process.returncode) has the status as soon as the child
# is reaped, and wait() returns at the exit even when a grandchild keeps a
# pipe open (asyncio 3.11-3.13 wait for the pipes then, CPython gh-119710).


cdef object _UnixSubprocessTransport = _unix_events._UnixSubprocessTransport
cdef int _SIGTERM = _signal.SIGTERM
cdef int _SIGKILL = _signal.SIGKILL


class SubprocessTransport(_UnixSubprocessTransport):
    """asyncio.SubprocessTransport for a child started by subprocess_exec()
    or subprocess_shell(). Loop thread only."""

    _exit_status = None     # the kernel's status, before process_exited()
    _child_watch = None     # PidfdWatch while the pidfd is ours, else None
    _open_at_exit = ()      # fds of the pipes left open when the child was reaped

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
        self._settle_exit()

    def _settle_exit(self):
        # The child is reaped: settle the pipes, then report the exit now
        # unless every pipe's connection_lost() is on its way (see the top).
        if self._exit_status is None or self._returncode is not None:
            return
        open_at_exit = []
        for fd, proto in self._pipes.items():
            if proto is None or proto.pipe is None:
                state = -1                  # still being connected
            elif proto.disconnected:
                continue
            else:
                state = _settle_pipe(proto.pipe)
            if state < 0:
                if self._closed:
                    # close() came first: its pipes close on their own.
                    continue
                # The pipe does not read yet (connection_made() and the first
                # read are queued): settle once it does.
                self._loop.call_soon(self._settle_exit)
                return
            if state == 0:
                open_at_exit.append(fd)
        # The exit is reported once the pipes that ended have said so; the
        # ones left open are not waited for.
        self._open_at_exit = tuple(open_at_exit)
        self._maybe_report_exit()

    def _pipe_connection_lost(self, fd, exc):
        _UnixSubprocessTransport._pipe_connection_lost(self, fd, exc)
        self._maybe_report_exit()

    def _maybe_report_exit(self):
        if self._exit_status is None or self._returncode is not None:
            return
        if all(p is not None and (p.disconnected or fd in self._open_at_exit)
               for fd, p in self._pipes.items()):
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


cdef int _settle_pipe(object transport) except -2:
    # 1: the pipe's end is known (connection_lost() is on its way); 0: it
    # stays open for now; -1: it does not read yet.
    cdef ReadPipeTransport r
    if isinstance(transport, ReadPipeTransport):
        r = <ReadPipeTransport>transport
        if (r._pipe is not None and not r._closing and not r._paused
                and not (r.mask & EPOLLIN)):
            return -1
    if isinstance(transport, PipeTransport):
        return 1 if (<PipeTransport>transport)._settle() else 0
    return 0


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
