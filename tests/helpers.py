"""Helpers shared by the tests (imported as `helpers`; tests/ is on sys.path)."""

import asyncio
import gc
import os
import subprocess
import sys
import time

import aioloop

# The oracle is asyncio's own Unix loop, named directly: asyncio.new_event_loop()
# would follow the current policy, which a test may have set to aioloop's.
LOOP_FACTORIES = {
    "asyncio": asyncio.SelectorEventLoop,
    "aioloop": aioloop.new_event_loop,
}

PY312 = sys.version_info >= (3, 12)

# Whether a new loop starts in debug mode here: asyncio's rule
# (PYTHONASYNCIODEBUG, -X dev). CI runs the suite once with it set.
DEBUG_DEFAULT = sys.flags.dev_mode or (
    not sys.flags.ignore_environment and bool(os.environ.get("PYTHONASYNCIODEBUG")))


def open_fds():
    """The process's open descriptors: {fd: what it points to}."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the descriptor listdir() itself used, closed by now
    return fds


def zombies():
    """Pids of this process's children that have exited but not been reaped."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parens.
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == me:
            found.append(int(name))
    return found


def assert_no_fd_leak(before):
    gc.collect()
    after = open_fds()
    leaked = {fd: target for fd, target in after.items() if before.get(fd) != target}
    assert not leaked, f"descriptors left open: {leaked}"


def run_briefly(loop, passes=1):
    """Run exactly `passes` passes of the loop (stop() before run_forever
    runs one pass; each pass's callbacks may schedule more)."""
    for _ in range(passes):
        loop.stop()
        loop.run_forever()


def run_until(loop, predicate, timeout=10.0):
    """Run the loop until predicate() is true; fail after `timeout` seconds."""
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting for the loop"
        loop.call_later(0.001, loop.stop)
        loop.run_forever()


# What /proc/.../wchan shows for a task asleep in epoll_wait (x86-64, generic).
_EPOLL_WCHAN = ("do_epoll_wait", "ep_poll")


def wait_until_asleep_in_poll(native_id, timeout=10.0):
    """Return once the thread whose threading.get_native_id() is `native_id`
    (a loop's thread, in this process) sleeps in epoll_wait: the state a
    test of "wakes a sleeping loop" must start from. Fails after `timeout`
    seconds. Both loops under test (asyncio's epoll selector and aioloop)
    block there when they have nothing to do."""
    task = f"/proc/self/task/{native_id}"
    deadline = time.monotonic() + timeout
    while True:
        with open(f"{task}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
        if state == "S":
            with open(f"{task}/wchan") as f:
                if f.read().strip() in _EPOLL_WCHAN:
                    return
        assert time.monotonic() < deadline, "the loop's thread never slept in epoll_wait"
        time.sleep(0.001)


def run_python(code, *, env=None, args=()):
    """Run `code` in a fresh interpreter (this one, with aioloop importable);
    return its stdout. Fails the test on a non-zero exit."""
    full_env = dict(os.environ)
    full_env.pop("PYTHONASYNCIODEBUG", None)
    full_env.pop("PYTHONDEVMODE", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, *args, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def wait_for_threads(baseline, timeout=10.0):
    """Wait until at most `baseline` threads are alive (or `timeout` seconds
    pass); returns the number alive then."""
    import threading
    import time
    deadline = time.monotonic() + timeout
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count()


def take_fd_numbers_up_to(fd_number, limit=8):
    """Open eventfds until one gets `fd_number` (or `limit` more): after a
    loop's close(), its old descriptor numbers are the lowest free ones, so
    a stray write to the loop's closed eventfd then lands in one of ours.
    Returns our fds; the caller closes them."""
    mine = []
    while True:
        fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        mine.append(fd)
        if fd >= fd_number or len(mine) > limit:
            return mine


def in_forked_child(check):
    """Run check() in a fork()ed child; its exit code: 0 when check()
    returned true, 2 when false, 1 when it raised."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            code = 0 if check() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def tls_ca():
    """A certificate authority for TLS tests, with trustme's interface
    (issue_cert(*names).configure_cert(ctx), configure_trust(ctx)): trustme's
    where it is installed, else one made with the openssl command (trustme
    needs cryptography, which has no free-threaded 3.13t build here)."""
    try:
        import trustme
    except ImportError:
        return _OpenSSLCA()
    return trustme.CA()


class _OpenSSLCA:
    def __init__(self):
        import shutil
        import tempfile
        import weakref
        self._dir = tempfile.mkdtemp(prefix="aioloop-test-ca-")
        weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._key, self._cert = self._path("ca.key"), self._path("ca.pem")
        # Python 3.13's default contexts verify with VERIFY_X509_STRICT: the
        # CA needs critical basicConstraints and keyUsage, the leaf its key
        # identifiers, or the handshake fails.
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", self._key, "-out", self._cert, "-days", "2",
                      "-subj", "/CN=aioloop test CA",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._leaves = 0

    def _path(self, name):
        return os.path.join(self._dir, name)

    @staticmethod
    def _openssl(*args):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def issue_cert(self, *names):
        import ipaddress
        self._leaves += 1
        key, csr, cert, ext = (self._path(f"leaf{self._leaves}.{x}") for x in ("key", "csr", "pem", "ext"))
        sans = []
        for name in names:
            try:
                sans.append(f"IP:{ipaddress.ip_address(name)}")
            except ValueError:
                sans.append(f"DNS:{name}")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={','.join(sans)}\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n")
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={names[0]}")
        self._openssl("x509", "-req", "-in", csr, "-CA", self._cert, "-CAkey", self._key,
                      "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", ext)
        return _OpenSSLLeaf(cert, key)

    def configure_trust(self, ctx):
        ctx.load_verify_locations(cafile=self._cert)


class _OpenSSLLeaf:
    def __init__(self, cert, key):
        self._cert, self._key = cert, key

    def configure_cert(self, ctx):
        ctx.load_cert_chain(self._cert, self._key)
