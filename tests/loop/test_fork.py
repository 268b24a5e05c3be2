"""fork(): a loop inherited by a child is unusable there with a clear error,
and nothing the child does to it disturbs the parent's loop (they share the
epoll set). aioloop only: stock asyncio lets a child use an inherited loop.

The fork happens in a fresh interpreter, never in the pytest process (which
may have threads).
"""

from helpers import run_python

_FORK_PROGRAM = r"""
import asyncio, os, socket, warnings, aioloop
warnings.simplefilter("ignore", RuntimeWarning)   # the never-awaited sleep(0)

loop = aioloop.new_event_loop()
a, b = socket.socketpair()
got = []
loop.add_reader(a, lambda: got.append(a.recv(100)))
loop.call_soon(loop.stop)
loop.run_forever()          # used before the fork
pending = loop.call_later(3600, int)

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    code = 0
    lines = []
    try:
        for name, call in [
            ("run_forever", loop.run_forever),
            ("run_until_complete", lambda: loop.run_until_complete(asyncio.sleep(0))),
            ("call_soon", lambda: loop.call_soon(int)),
            ("call_later", lambda: loop.call_later(1, int)),
            ("call_at", lambda: loop.call_at(loop.time() + 1, int)),
            ("create_future", loop.create_future),
            ("add_reader", lambda: loop.add_reader(b, int)),
            ("add_writer", lambda: loop.add_writer(b, int)),
            ("remove_reader", lambda: loop.remove_reader(a)),
        ]:
            try:
                call()
                lines.append(f"{name}: no error")
            except RuntimeError as exc:
                lines.append(f"{name}: RuntimeError: {exc}")
        loop.close()        # must not touch the shared epoll set
        lines.append(f"closed: {loop.is_closed()}")
        fresh = aioloop.new_event_loop()
        lines.append(f"fresh loop: {fresh.run_until_complete(asyncio.sleep(0.01, result=42))}")
        fresh.close()
    except BaseException as exc:
        lines.append(f"child failed: {exc!r}")
        code = 1
    finally:
        os.write(w, "\n".join(lines).encode())
        os._exit(code)

os.close(w)
child = b""
while chunk := os.read(r, 65536):
    child += chunk
os.close(r)
_, status = os.waitpid(pid, 0)
print(child.decode())
print(f"child exit: {os.waitstatus_to_exitcode(status)}")

# The parent's registration survived whatever the child did.
b.send(b"after fork")
watchdog = loop.call_later(10, loop.stop)
loop.call_soon(lambda: None)
while not got and not watchdog.cancelled() and loop.time() < watchdog.when():
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
print(f"parent reader: {got}")
print(f"parent run: {loop.run_until_complete(asyncio.sleep(0.01, result='ok'))}")
print(f"parent stats timers: {loop.stats()['timers'] >= 1}")
pending.cancel()
watchdog.cancel()
loop.remove_reader(a)
loop.close()
a.close()
b.close()
"""


def test_loop_inherited_across_fork_raises_in_the_child_and_parent_keeps_working():
    out = run_python(_FORK_PROGRAM).splitlines()
    child = out[:11]
    # Refused early and alike: scheduling calls (call_soon, call_later,
    # create_future) as well as running and fd registration.
    for name in ("run_forever", "run_until_complete", "call_soon", "call_later", "call_at",
                 "create_future", "add_reader", "add_writer", "remove_reader"):
        line = next(l for l in child if l.startswith(name + ":"))
        assert line.startswith(f"{name}: RuntimeError: "), line
        assert "fork" in line, line
    assert "closed: True" in child
    assert "fresh loop: 42" in child
    assert "child exit: 0" in out
    assert "parent reader: [b'after fork']" in out
    assert "parent run: ok" in out
    assert "parent stats timers: True" in out


_FORK_AFTER_CLOSE = r"""
import os, aioloop
loop = aioloop.new_event_loop()
loop.close()
pid = os.fork()
if pid == 0:
    # A closed loop stays closed (and says so) in the child.
    try:
        loop.call_soon(int)
    except RuntimeError as exc:
        os._exit(0 if str(exc) == "Event loop is closed" else 2)
    os._exit(1)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_closed_loop_inherited_across_fork_reports_closed():
    assert run_python(_FORK_AFTER_CLOSE).split() == ["0"]
