"""Helpers for tests/integration/ that test modules import (conftest.py is not
importable by name reliably once other folders have a conftest.py too)."""

import asyncio
import os

import aioloop

LOOPS = {
    "aioloop": aioloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


def make_runner(loop_name):
    factory = LOOPS[loop_name]

    def run(coro_fn, *args, timeout=60):
        async def main():
            check_loop(loop_name)
            async with asyncio.timeout(timeout):
                return await coro_fn(*args)

        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main())

    return run


def check_loop(loop_name):
    """Assert that the running loop is the kind the test is parametrised for."""
    loop = asyncio.get_running_loop()
    if loop_name == "aioloop":
        assert isinstance(loop, aioloop.Loop), f"expected aioloop.Loop, running on {type(loop)!r}"
    else:
        assert not isinstance(loop, aioloop.Loop), f"expected a stock loop, running on {type(loop)!r}"


HERE = os.path.dirname(os.path.abspath(__file__))


class Child:
    """A server in a child process (started with subprocess.Popen, not with the
    loop: loop.subprocess_exec is not what these tests are about). A thread
    collects its merged stdout/stderr lines so that tests can wait for a line
    with a deadline; `output` keeps them all for failure messages."""

    def __init__(self, args, **kwargs):
        import queue
        import subprocess
        import sys
        import threading

        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, cwd=HERE, env=env, **kwargs)
        self.lines = queue.Queue()
        self.output = []

        def pump():
            for line in self.proc.stdout:
                self.output.append(line)
                self.lines.put(line)
            self.lines.put(None)

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()

    def expect(self, predicate, timeout=30):
        """Return the first line (stripped) for which predicate(line) is true."""
        import queue
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no expected line within {timeout}s; output:\n{self.text()}")
            if line is None:
                raise AssertionError(f"child exited ({self.proc.wait()}) first; output:\n{self.text()}")
            if predicate(line.strip()):
                return line.strip()

    def text(self):
        return "".join(self.output)

    def wait(self, timeout=30):
        """Wait for the exit status and for the last of the child's output."""
        import subprocess

        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"child did not exit within {timeout}s; output:\n{self.text()}")
        self._pump.join(timeout)  # all of its output collected
        return status

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
