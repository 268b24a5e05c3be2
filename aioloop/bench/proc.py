"""Child processes of the benchmark: workers, servers, load clients.

Every server and every micro benchmark runs in a process of its own, so one
loop's garbage, caches and threads never touch another's figures.  A child
reports on stdout with JSON lines: a server's first line is
``{"ready": PORT, "pid": PID}``, a finished measurement prints its result, and
any child that cannot do its job prints ``{"error": "..."}``.  Whatever goes
wrong in a child (an exception, a crash, a hang) becomes a CellError here,
never an exception that stops the run.
"""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

from .model import CellError


def worker_argv(role, python=None, **spec):
    """argv that runs aioloop.bench.worker in a child with this interpreter, or with
    `python` (another interpreter: run it with foreign_env())."""
    return [python or sys.executable, "-m", "aioloop.bench.worker", role, json.dumps(spec)]


def child_env():
    """The environment for Python children: they must import what we import
    (the aioloop being measured, a ``module:factory`` from the current
    directory), so our sys.path goes first on their PYTHONPATH."""
    env = dict(os.environ)
    paths = [p or os.getcwd() for p in sys.path]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.pop("PYTHONASYNCIODEBUG", None)  # debug mode would measure something else
    return env


def aioloop_root():
    """The directory that holds the aioloop package this process imported."""
    import aioloop
    return os.path.dirname(os.path.dirname(os.path.abspath(aioloop.__file__)))


def foreign_env(extra=None):
    """The environment for a child run by another interpreter (``--python``): the
    aioloop tree being measured first on its PYTHONPATH, then the PYTHONPATH we were
    given, but not the rest of our sys.path, whose standard library and
    site-packages belong to this interpreter's version; then `extra` (PYTHON_GIL=0
    for a free-threaded build)."""
    env = dict(os.environ)
    paths = [aioloop_root()]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.pop("PYTHONASYNCIODEBUG", None)
    env.update(extra or {})
    return env


def server_cpu_ns(pid):
    """CPU time (user + system) of process `pid` so far, in nanoseconds.

    Summed over its threads from /proc/PID/task/*/schedstat (nanosecond
    resolution), else utime+stime from /proc/PID/stat (clock ticks, 10 ms
    here).  Returns (ns, source) or raises CellError."""
    try:
        total, ntasks = 0, 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
                    ntasks += 1
            except (OSError, ValueError, IndexError):
                continue  # the thread exited meanwhile
        if ntasks:
            return total, "schedstat"
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK"), "stat"
    except (OSError, ValueError, IndexError) as e:
        raise CellError(f"cannot read the server's CPU time from /proc: {e}") from None


def _pin(cpu):
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def _describe_exit(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exited with status {rc}"


class Child:
    """A child process whose JSON lines we read with a time-out.  Use as a
    context manager: leaving it stops the child and its process group."""

    def __init__(self, argv, *, cpu=None, what="worker", env=None):
        self.what = what
        self._stderr = tempfile.TemporaryFile()
        self._buf = b""
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
                env=child_env() if env is None else env, preexec_fn=_pin(cpu), start_new_session=True)
        except OSError as e:
            self._stderr.close()
            raise CellError(f"cannot start {what}: {e}", fatal=True) from None

    @property
    def pid(self):
        return self.proc.pid

    def stderr_tail(self, lines=3):
        """The last lines the child wrote to stderr, one string."""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return " | ".join(text.splitlines()[-lines:])

    def read_json(self, timeout):
        """The child's next stdout line as a dict.  A line {"error": msg} raises
        CellError(msg); so do an exit without a line and a time-out."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CellError(f"{self.what} gave no answer within {timeout:g} s", fatal=True)
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                rc = self.proc.wait()
                tail = self.stderr_tail()
                raise CellError(f"{self.what} {_describe_exit(rc)}" + (f": {tail}" if tail else ""))
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            msg = json.loads(line)
        except ValueError:
            raise CellError(f"{self.what} printed {line[:200]!r}, not a JSON line") from None
        if "error" in msg:
            raise CellError(str(msg["error"]))
        return msg

    def check_alive(self):
        """Raise CellError if the child has exited."""
        rc = self.proc.poll()
        if rc is not None:
            tail = self.stderr_tail()
            raise CellError(f"{self.what} {_describe_exit(rc)}" + (f": {tail}" if tail else ""))

    def stop(self):
        """SIGTERM the child's process group, SIGKILL after 3 s; idempotent."""
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.proc.stdout.close()
        self._stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_json(argv, *, timeout, cpu=None, what="worker", env=None):
    """Run a child to completion and return its one JSON result line."""
    with Child(argv, cpu=cpu, what=what, env=env) as child:
        result = child.read_json(timeout)
        try:
            child.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # it answered; stop() will end it
        return result
