# Child-exit watching: how a loop learns that a child it spawned has exited,
# without a process-wide SIGCHLD handler.
#
# Kernel facts that decide the design:
# - pidfd_open(pid) (Linux 5.3) returns a descriptor for one process. It
#   becomes readable (EPOLLIN) once that process has exited (a zombie
#   waiting to be reaped), and it names that process only: after the pid is
#   reaped and reused by a stranger, the pidfd still means the dead child.
#   pidfds are always close-on-exec, so spawned programs never inherit them.
# - waitid(P_PIDFD, pidfd, WEXITED) (Linux 5.4) reaps exactly that process.
#   On 5.3 (EINVAL) we reap with waitpid(pid) instead: still exact, since a
#   pid cannot be reused before its zombie is reaped.
# - pidfd_send_signal() signals through the pidfd: send_signal() can never
#   hit a stranger that got the pid after the child was reaped.
# - A SIGCHLD watcher is process-wide: the handler belongs to one owner, and
#   waitpid(-1) steals the statuses of children that other code (another
#   loop, subprocess.run in a thread) waits for. A pidfd is per child and
#   lives on the loop's own epoll, so any number of loops in any threads
#   watch their own children independently, and the loop sleeps in one
#   epoll_wait whatever it waits for.
#
# Who reaps. The loop reaps a child when its pidfd fires and stores the
# status in the Popen object (popen.returncode), so Popen.poll(), wait() and
# send_signal() never call waitpid() on a reaped pid. If Popen reaped it
# first (BaseSubprocessTransport.close() calls Popen.poll(); Python 3.11 and
# 3.12's send_signal() too), waitid() fails with ECHILD and we take the status
# Popen recorded. If nobody knows it (the child was reaped by a stranger's
# waitpid(-1), or SIGCHLD is ignored and the kernel reaped it), the return
# code is 255 with a warning, as asyncio's child watchers report.
#
# Fallback, when pidfd_open() does not exist or is refused (kernel < 5.3,
# seccomp), or AIOLOOP_CHILD_WATCHER=thread is set: one daemon thread per
# child blocks in waitpid(pid, 0) and posts the status to the loop with
# call_soon_threadsafe(), as asyncio's ThreadedChildWatcher does. The thread
# holds the Popen's wait lock while it waits, so Popen.poll() in the loop
# thread returns None instead of racing it to the status.
#
# fork(): the pidfds and the epoll set are inherited by a forked child, but a
# loop refuses to run in a forked child (loop/loop.pyx) and a process can only
# wait for its own children, so nothing here runs there; exec closes them.
#
# loop.close() while children still run: they are not killed (asyncio does
# not kill them either) and their exit can no longer be delivered, but they
# must still be reaped. Each pidfd leaves the poller for an orphan reaper
# thread that polls it, reaps the child, records popen.returncode and closes
# the pidfd. Fallback threads keep waiting and just skip the delivery.


cdef object _pidfd_works = None         # probed once: True or False
cdef object _waitstatus_to_exitcode = _unix_events.waitstatus_to_exitcode


def _pidfd_usable():
    """True when children are watched with pidfds; False selects the thread
    fallback. AIOLOOP_CHILD_WATCHER=thread forces the fallback (read at each
    spawn, so a test or a seccomp'd deployment can choose)."""
    global _pidfd_works
    if _os.environ.get('AIOLOOP_CHILD_WATCHER') == 'thread':
        return False
    if _pidfd_works is None:
        try:
            _os.close(_os.pidfd_open(_os.getpid()))
            _pidfd_works = True
        except (AttributeError, OSError):
            _pidfd_works = False
    return _pidfd_works


class _NoLock:
    # For a Popen without a wait lock (none is expected on 3.11-3.13).
    def acquire(self, blocking=True):
        return True
    def release(self):
        pass
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False


cdef object _wait_lock(object popen):
    lock = getattr(popen, '_waitpid_lock', None)
    return _NoLock() if lock is None else lock


cdef object _unknown_status(int pid):
    _logger.warning("child process pid %d exit status already read: "
                    "will report returncode 255", pid)
    return 255


cdef object _reap_pidfd(int pidfd, int pid):
    """Reap the exited child behind pidfd without blocking. Returns its
    return code (negative signal number if killed), None if it has not
    exited; raises ChildProcessError if someone else reaped it."""
    try:
        res = _os.waitid(_os.P_PIDFD, pidfd, _os.WEXITED | _os.WNOHANG)
    except OSError as exc:
        if exc.errno != _errno.EINVAL:
            raise
        # Linux 5.3: pidfd_open but no waitid(P_PIDFD). Our unreaped child
        # still owns its pid, so waitpid(pid) is exact.
        wpid, status = _os.waitpid(pid, _os.WNOHANG)
        return None if wpid == 0 else _waitstatus_to_exitcode(status)
    if res is None:
        return None
    if res.si_code == _os.CLD_EXITED:
        return res.si_status
    return -res.si_status           # CLD_KILLED, CLD_DUMPED


cdef class PidfdWatch(FdWatcher):

    def __repr__(self):
        state = 'watching' if self.fd >= 0 else 'done'
        return f'<PidfdWatch pid={self.pid} pidfd={self.fd} {state}>'

    cdef int dispatch(self, uint32_t events) except -1:
        if self.fd < 0:
            return 0
        popen = self._popen
        returncode = popen.returncode
        if returncode is None:
            lock = _wait_lock(popen)
            # Not acquired: another thread sits in Popen.wait() and will reap;
            # then waitid() below fails with ECHILD and Popen has the status.
            locked = lock.acquire(False)
            try:
                returncode = _reap_pidfd(self.fd, self.pid)
            except ChildProcessError:
                returncode = popen.returncode
                if returncode is None:
                    returncode = _unknown_status(self.pid)
            finally:
                if locked:
                    lock.release()
            if returncode is None:
                return 0        # not exited after all: keep watching
        popen.returncode = returncode
        if self._loop._debug:
            _logger.debug('process %s exited with returncode %s', self.pid, returncode)
        self._close_pidfd()
        on_exit = self._on_exit
        self._on_exit = None
        self._popen = None
        on_exit(returncode)
        return 0

    def send_signal(self, int sig):
        """Signal the child through its pidfd. False when the pidfd is gone
        (reaped or orphaned): the caller then falls back to os.kill()."""
        if self.fd < 0:
            return False
        try:
            _signal.pidfd_send_signal(self.fd, sig)
        except ProcessLookupError:
            pass                # exited, not yet reaped: nothing to signal
        return True

    cdef int _close_pidfd(self) except -1:
        cdef int fd = self.fd
        if fd < 0:
            return 0
        loop = self._loop
        if not loop._closed:
            loop._fdtable.detach(self)
        (<UnixLoop>loop)._children.pop(self.pid, None)
        self.fd = -1
        _os.close(fd)
        return 0

    cdef int _orphan(self) except -1:
        """loop.close(): hand the pidfd to a reaper thread (see the top)."""
        cdef int fd = self.fd
        if fd < 0:
            return 0
        if not self._loop._closed:
            self._loop._fdtable.detach(self)     # while self.fd still names it
        self.fd = -1
        popen = self._popen
        self._popen = None
        self._on_exit = None
        try:
            _threading.Thread(target=_reap_orphan, args=(fd, self.pid, popen),
                              name=f'aioloop-reap-{self.pid}', daemon=True).start()
        except RuntimeError:
            # Interpreter shutdown (a loop closed by its __del__): no new
            # threads. The child is reparented to init when we exit.
            _os.close(fd)
        return 0


def _reap_orphan(int pidfd, int pid, popen):
    # A child that outlived its loop: wait for its exit, reap it, close the
    # pidfd. Blocking in poll() holds no lock, so Popen.poll() and kill() in
    # other threads stay usable meanwhile.
    try:
        p = _select.poll()
        p.register(pidfd, _select.POLLIN)
        while not p.poll():
            pass
        with _wait_lock(popen):
            if popen.returncode is None:
                try:
                    returncode = _reap_pidfd(pidfd, pid)
                except ChildProcessError:
                    returncode = None
                if returncode is not None:
                    popen.returncode = returncode
    finally:
        _os.close(pidfd)


def _wait_child_thread(EventLoopCore loop, int pid, popen, on_exit):
    # The fallback watcher: one thread per child, as ThreadedChildWatcher.
    with _wait_lock(popen):
        if popen.returncode is not None:
            returncode = popen.returncode
        else:
            try:
                _, status = _os.waitpid(pid, 0)
                returncode = _waitstatus_to_exitcode(status)
            except ChildProcessError:
                returncode = _unknown_status(pid)
            popen.returncode = returncode
    if loop._debug:
        _logger.debug('process %s exited with returncode %s', pid, returncode)
    try:
        loop.call_soon_threadsafe(on_exit, returncode)
    except RuntimeError:
        pass        # the loop closed meanwhile: the child is reaped anyway


cdef int _watch_child(UnixLoop loop, int pid, object popen, object on_exit) except -1:
    """Arrange for on_exit(returncode) to run in the loop thread when child
    `pid` exits, and for the child to be reaped. Returns after registering;
    a child that already exited is reported on the next pass."""
    cdef PidfdWatch w
    if _pidfd_usable():
        try:
            pidfd = _os.pidfd_open(pid)
        except ProcessLookupError:
            # Already reaped by someone else (SIGCHLD ignored, waitpid(-1)).
            returncode = popen.returncode
            if returncode is None:
                returncode = _unknown_status(pid)
            popen.returncode = returncode
            loop.call_soon(on_exit, returncode)
            return 0
        except OSError:
            pidfd = None      # EMFILE, seccomp...: this child gets a thread
        if pidfd is not None:
            w = PidfdWatch.__new__(PidfdWatch)
            w.fd = pidfd
            w.pid = pid
            w._loop = loop
            w._popen = popen
            w._on_exit = on_exit
            try:
                loop._fdtable.attach(w)
                loop._fdtable.set_mask(w, EPOLLIN)
            except Exception:
                # The child runs already: it must be watched somehow, or it
                # becomes a zombie. A thread does not need the poller.
                loop._fdtable.detach(w)
                w.fd = -1
                _os.close(pidfd)
            else:
                loop._children[pid] = w
                return 0
    _threading.Thread(target=_wait_child_thread, args=(loop, pid, popen, on_exit),
                      name=f'aioloop-waitpid-{pid}', daemon=True).start()
    return 0
