"""Subprocesses: subprocess_exec/subprocess_shell and asyncio.create_subprocess_*,
on both loops. The fixture fails a test that leaves a zombie or a descriptor."""

import asyncio
import os
import signal
import sys
import threading
import time

import pytest

from unix_helpers import run, wait_until, zombies

PIPE = asyncio.subprocess.PIPE
DEVNULL = asyncio.subprocess.DEVNULL
STDOUT = asyncio.subprocess.STDOUT
PY = sys.executable
SH = "/bin/sh"


class RecordingSubprocessProtocol(asyncio.SubprocessProtocol):
    """Records every callback; `done` resolves at connection_lost."""

    def __init__(self, loop):
        self.events = []
        self.output = {1: bytearray(), 2: bytearray()}
        self.done = loop.create_future()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append(("connection_made",))

    def pipe_data_received(self, fd, data):
        self.output[fd] += data
        self.events.append(("pipe_data_received", fd))

    def pipe_connection_lost(self, fd, exc):
        self.events.append(("pipe_connection_lost", fd))

    def process_exited(self):
        self.events.append(("process_exited",))

    def connection_lost(self, exc):
        self.events.append(("connection_lost",))
        self.done.set_result(exc)


# --- data through the pipes -----------------------------------------------------


def test_echo_10mb_through_stdin_stdout_with_communicate(loop):
    payload = os.urandom(10 * 1024 * 1024)

    async def main():
        proc = await asyncio.create_subprocess_exec(
            "cat", stdin=PIPE, stdout=PIPE, stderr=PIPE)
        out, err = await proc.communicate(payload)
        return out, err, proc.returncode

    out, err, rc = run(loop, main())
    assert rc == 0
    assert err == b""
    assert out == payload


def test_echo_10mb_streamed_with_drain(loop):
    payload = os.urandom(10 * 1024 * 1024)
    script = ("import sys, shutil; "
              "shutil.copyfileobj(sys.stdin.buffer, sys.stdout.buffer, 1 << 16)")

    async def main():
        proc = await asyncio.create_subprocess_exec(PY, "-c", script, stdin=PIPE, stdout=PIPE)

        async def feed():
            view = memoryview(payload)
            for i in range(0, len(view), 1 << 18):
                proc.stdin.write(view[i:i + (1 << 18)])
                await proc.stdin.drain()
            proc.stdin.close()
            await proc.stdin.wait_closed()

        feeder = asyncio.ensure_future(feed())
        out = await proc.stdout.read()
        await feeder
        return out, await proc.wait()

    out, rc = run(loop, main())
    assert rc == 0
    assert len(out) == len(payload) and out == payload


def test_protocol_gets_output_and_callbacks(loop, loop_name):
    script = ("import sys; sys.stdout.write('out'); sys.stdout.flush(); "
              "sys.stderr.write('err'); sys.exit(3)")

    async def main():
        tr, proto = await loop.subprocess_exec(
            lambda: RecordingSubprocessProtocol(loop), PY, "-c", script)
        assert tr.get_pid() > 0
        assert isinstance(tr.get_pipe_transport(0), asyncio.WriteTransport)
        assert isinstance(tr.get_pipe_transport(1), asyncio.ReadTransport)
        assert isinstance(tr.get_pipe_transport(2), asyncio.ReadTransport)
        assert tr.get_pipe_transport(3) is None
        assert tr.get_extra_info("subprocess").pid == tr.get_pid()
        exc = await proto.done
        return tr, proto, exc

    tr, proto, exc = run(loop, main())
    assert exc is None
    assert bytes(proto.output[1]) == b"out"
    assert bytes(proto.output[2]) == b"err"
    assert tr.get_returncode() == 3
    ev = proto.events
    assert ev[0] == ("connection_made",)
    assert ev[-1] == ("connection_lost",)
    assert ev.count(("process_exited",)) == 1
    for fd in (0, 1, 2):
        assert ev.count(("pipe_connection_lost", fd)) == 1
    for fd in (1, 2):
        # A pipe's data always comes before its pipe_connection_lost.
        last_data = max(i for i, e in enumerate(ev) if e == ("pipe_data_received", fd))
        assert last_data < ev.index(("pipe_connection_lost", fd))
    tr.close()
    with pytest.raises(ProcessLookupError):
        tr.send_signal(signal.SIGTERM)


@pytest.mark.parametrize("round", range(20))
def test_process_exited_comes_after_every_pipe_closed(loop, loop_name, round):
    # aioloop holds the exit status until the pipes have closed; asyncio
    # documents no order (gh-108973), so there only the callbacks' presence
    # is checked.
    script = "import sys; sys.stdout.write('x' * 70000); sys.stderr.write('y')"

    async def main():
        tr, proto = await loop.subprocess_exec(
            lambda: RecordingSubprocessProtocol(loop), PY, "-c", script,
            stdin=DEVNULL)
        await proto.done
        tr.close()
        return proto

    proto = run(loop, main())
    ev = proto.events
    exited = ev.index(("process_exited",))
    if loop_name == "aioloop":
        assert exited == len(ev) - 2
        assert all(e[0] != "pipe_data_received" for e in ev[exited:])
    assert {("pipe_connection_lost", 1), ("pipe_connection_lost", 2)} <= set(ev)
    assert len(proto.output[1]) == 70000


# --- a grandchild holding the pipes -----------------------------------------------


class ExitRecordingProtocol(RecordingSubprocessProtocol):
    """Also resolves `exited` at process_exited(), with the output so far."""

    def __init__(self, loop):
        super().__init__(loop)
        self.exited = loop.create_future()

    def process_exited(self):
        super().process_exited()
        self.exited.set_result({fd: bytes(out) for fd, out in self.output.items()})


@pytest.mark.parametrize("held", ["stdin_stdout_stderr", "stdin"])
def test_process_exited_while_a_grandchild_holds_the_pipes(loop, loop_name, held):
    # The child starts a grandchild that inherits the pipes (all three, as in
    # anyio's test_wait_returns_on_process_exit_with_open_stdout, or stdin
    # only) and waits for EOF on stdin, then exits. process_exited() reports
    # the exit at once, as on asyncio, while we still hold stdin open; once
    # stdin is closed the grandchild exits and the pipes end.
    redirect = "" if held == "stdin_stdout_stderr" else ", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
    code = ("import subprocess, sys\n"
            "subprocess.Popen([sys.executable, '-c', "
            "'import select, sys; select.select([sys.stdin], [], [], 30)']" + redirect + ")\n"
            "print('spawned', flush=True)\n")

    async def main():
        tr, proto = await loop.subprocess_exec(
            lambda: ExitRecordingProtocol(loop), PY, "-c", code)
        try:
            output_at_exit = await asyncio.wait_for(asyncio.shield(proto.exited), 10)
            assert tr.get_returncode() == 0
            assert tr.get_pipe_transport(0).get_write_buffer_size() == 0
            assert ("connection_lost",) not in proto.events
        finally:
            tr.get_pipe_transport(0).close()       # the grandchild's EOF
        assert await asyncio.wait_for(proto.done, 20) is None
        tr.close()
        return output_at_exit, proto

    output_at_exit, proto = run(loop, main())
    ev = proto.events
    assert bytes(proto.output[1]) == b"spawned\n"
    assert ev.count(("process_exited",)) == 1
    for fd in (0, 1, 2):
        assert ev.count(("pipe_connection_lost", fd)) == 1
    assert ev[-1] == ("connection_lost",)
    if loop_name == "aioloop":
        # What the child wrote before it exited is delivered before the exit
        # (asyncio documents no order, CPython gh-108973).
        assert output_at_exit[1] == b"spawned\n"
        if held == "stdin":
            # Only stdin stays open: stdout and stderr end before the exit.
            exited = ev.index(("process_exited",))
            assert ev.index(("pipe_connection_lost", 1)) < exited
            assert ev.index(("pipe_connection_lost", 2)) < exited
            assert ev.index(("pipe_connection_lost", 0)) > exited


def test_anyio_style_wait_on_process_exited_with_open_stdout(loop):
    # anyio's Process.wait() waits for process_exited() (its protocol sets an
    # Event there), with stdin still open and a grandchild holding stdout.
    code = ("import subprocess, sys\n"
            "subprocess.Popen([sys.executable, '-c', "
            "'import select, sys; select.select([sys.stdin], [], [], 30)'])\n")

    class Protocol(asyncio.subprocess.SubprocessStreamProtocol):
        def __init__(self):
            super().__init__(limit=2**16, loop=loop)
            self.exited = asyncio.Event()

        def process_exited(self):
            super().process_exited()
            self.exited.set()

    async def main():
        tr, proto = await loop.subprocess_exec(
            Protocol, PY, "-c", code, stdin=PIPE, stdout=PIPE, stderr=PIPE)
        proc = asyncio.subprocess.Process(tr, proto, loop)
        try:
            await asyncio.wait_for(proto.exited.wait(), 5)
            assert proc.returncode == 0
        finally:
            proc.stdin.close()
        assert await proc.stdout.read() == b""
        assert await proc.stderr.read() == b""
        return await asyncio.wait_for(proc.wait(), 20)

    loop.set_debug(True)
    assert run(loop, main()) == 0


# --- stdin/stdout/stderr redirection ---------------------------------------------


def test_stderr_to_stdout(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            SH, "-c", "echo out; echo err >&2", stdout=PIPE, stderr=STDOUT)
        out, err = await proc.communicate()
        return out, err, proc.returncode

    out, err, rc = run(loop, main())
    assert sorted(out.split()) == [b"err", b"out"]
    assert err is None
    assert rc == 0


def test_stderr_to_devnull_and_separate_pipes(loop):
    async def main():
        p1 = await asyncio.create_subprocess_exec(
            SH, "-c", "echo out; echo err >&2", stdout=PIPE, stderr=DEVNULL)
        r1 = await p1.communicate()
        p2 = await asyncio.create_subprocess_exec(
            SH, "-c", "echo out; echo err >&2", stdout=PIPE, stderr=PIPE)
        r2 = await p2.communicate()
        return r1, r2

    (out1, err1), (out2, err2) = run(loop, main())
    assert (out1, err1) == (b"out\n", None)
    assert (out2, err2) == (b"out\n", b"err\n")


def test_std_streams_to_files_and_fds(loop, tmp_path):
    src = tmp_path / "in"
    src.write_bytes(b"from a file\n")
    out_path = tmp_path / "out"
    err_path = tmp_path / "err"

    async def main():
        with open(src, "rb") as fin, open(out_path, "wb") as fout:
            err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                proc = await asyncio.create_subprocess_exec(
                    SH, "-c", "cat; echo oops >&2", stdin=fin, stdout=fout, stderr=err_fd)
                return await proc.wait()
            finally:
                os.close(err_fd)

    assert run(loop, main()) == 0
    assert out_path.read_bytes() == b"from a file\n"
    assert err_path.read_bytes() == b"oops\n"


def test_stdin_from_fd_of_a_pipe(loop):
    rfd, wfd = os.pipe()
    os.write(wfd, b"through an fd")
    os.close(wfd)

    async def main():
        proc = await asyncio.create_subprocess_exec("cat", stdin=rfd, stdout=PIPE)
        out, _ = await proc.communicate()
        return out

    try:
        assert run(loop, main()) == b"through an fd"
    finally:
        os.close(rfd)


# --- exit codes and signals -------------------------------------------------------


def test_exit_codes(loop):
    async def main():
        codes = []
        for code in (0, 1, 7, 255):
            proc = await asyncio.create_subprocess_exec(SH, "-c", f"exit {code}")
            codes.append(await proc.wait())
        proc = await asyncio.create_subprocess_shell("exit 42")
        codes.append(await proc.wait())
        return codes

    assert run(loop, main()) == [0, 1, 7, 255, 42]


def test_terminate_kill_and_death_by_signal(loop):
    async def main():
        results = []
        p = await asyncio.create_subprocess_exec("sleep", "30")
        p.terminate()
        results.append(await p.wait())
        p = await asyncio.create_subprocess_exec("sleep", "30")
        p.kill()
        results.append(await p.wait())
        p = await asyncio.create_subprocess_exec(SH, "-c", "kill -USR2 $$; sleep 5")
        results.append(await p.wait())
        return results

    assert run(loop, main()) == [-signal.SIGTERM, -signal.SIGKILL, -signal.SIGUSR2]


def test_send_signal_reaches_child_handler(loop):
    script = ("import signal, sys, time\n"
              "signal.signal(signal.SIGUSR1, lambda *a: sys.exit(42))\n"
              "print('ready', flush=True)\n"
              "time.sleep(30)\n")

    async def main():
        proc = await asyncio.create_subprocess_exec(PY, "-c", script, stdout=PIPE)
        assert await proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGUSR1)
        rc = await proc.wait()
        # After the exit, signalling never reaches the (maybe reused) pid:
        # a no-op, or ProcessLookupError once the transport has finished.
        for send in (lambda: proc.send_signal(signal.SIGTERM), proc.kill):
            try:
                send()
            except ProcessLookupError:
                pass
        await proc.stdout.read()
        return rc

    assert run(loop, main()) == 42


def test_transport_close_kills_running_child(loop):
    async def main():
        tr, proto = await loop.subprocess_exec(
            lambda: RecordingSubprocessProtocol(loop), "sleep", "30")
        tr.close()
        assert tr.is_closing()
        await proto.done
        return tr.get_returncode()

    assert run(loop, main()) == -signal.SIGKILL


# --- communicate() and timeouts ---------------------------------------------------


def test_communicate_with_timeout_then_kill(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import time; time.sleep(30)", stdin=PIPE, stdout=PIPE)
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(proc.communicate(b"input"), 0.3)
        assert time.monotonic() - t0 < 5
        assert proc.returncode is None
        proc.kill()
        return await proc.wait()

    assert run(loop, main()) == -signal.SIGKILL


def test_communicate_finishing_within_timeout(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())",
            stdin=PIPE, stdout=PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(b"shout"), 20)
        return out, proc.returncode

    assert run(loop, main()) == (b"SHOUT", 0)


def test_wait_for_timeout_on_wait_leaves_process_usable(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.1)
        proc.terminate()
        return await proc.wait()

    assert run(loop, main()) == -signal.SIGTERM


# --- many children ------------------------------------------------------------------


def test_200_concurrent_short_lived_children(loop):
    async def one(i):
        proc = await asyncio.create_subprocess_exec(
            SH, "-c", f"echo {i}; exit {i % 7}", stdout=PIPE)
        out, _ = await proc.communicate()
        return int(out), proc.returncode

    async def main():
        return await asyncio.gather(*(one(i) for i in range(200)))

    fds_between = []
    for _ in range(2):          # two rounds: the second must not grow
        results = run(loop, main(), timeout=120)
        assert results == [(i, i % 7) for i in range(200)]
        fds_between.append(len(os.listdir("/proc/self/fd")))
        assert not zombies()
    assert fds_between[1] <= fds_between[0]


def test_loops_in_threads_run_children_at_once(loop_factory):
    # Several loops, each in its own thread, spawn and reap their own
    # children concurrently; none steals another's exit status.
    results = {}

    async def work(tag):
        async def one(i):
            proc = await asyncio.create_subprocess_exec(
                SH, "-c", f"echo {tag}-{i}; exit {(tag * 10 + i) % 50}", stdout=PIPE)
            out, _ = await proc.communicate()
            return out.strip().decode(), proc.returncode
        return await asyncio.gather(*(one(i) for i in range(15)))

    def thread_main(tag):
        lp = loop_factory()
        try:
            results[tag] = lp.run_until_complete(asyncio.wait_for(work(tag), 60))
        except BaseException as exc:        # reported below
            results[tag] = exc
        finally:
            lp.close()

    threads = [threading.Thread(target=thread_main, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    for tag in range(4):
        assert results[tag] == [(f"{tag}-{i}", (tag * 10 + i) % 50) for i in range(15)]
    assert wait_until(lambda: not zombies())


# --- every argument asyncio passes to Popen -------------------------------------------


def test_popen_arguments_cwd_env_pass_fds(loop, tmp_path):
    rfd, wfd = os.pipe()
    script = ("import os, sys; print(os.getcwd()); print(os.environ.get('AIOLOOP_T')); "
              f"os.write({wfd}, b'passed')")

    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", script, stdout=PIPE, cwd=tmp_path,
            env={**os.environ, "AIOLOOP_T": "yes"}, pass_fds=(wfd,))
        out, _ = await proc.communicate()
        return out, proc.returncode

    try:
        out, rc = run(loop, main())
        assert rc == 0
        cwd, env = out.decode().split()
        assert os.path.samefile(cwd, tmp_path)
        assert env == "yes"
        assert os.read(rfd, 100) == b"passed"
    finally:
        os.close(rfd)
        os.close(wfd)


def test_popen_arguments_sessions_groups_preexec(loop):
    script = "import os; print(os.getsid(0), os.getpgid(0), os.getpid(), os.environ.get('PRE'))"

    def preexec():
        os.environ["PRE"] = "ran"

    async def main():
        outs = []
        for kwargs in ({"start_new_session": True}, {"process_group": 0},
                       {"preexec_fn": preexec}, {}):
            proc = await asyncio.create_subprocess_exec(PY, "-c", script, stdout=PIPE, **kwargs)
            out, _ = await proc.communicate()
            outs.append(out.split())
        return outs

    session, group, pre, plain = run(loop, main())
    assert session[0] == session[2] != str(os.getsid(0)).encode()    # own session
    assert group[1] == group[2] != str(os.getpgid(0)).encode()        # own group
    assert pre[3] == b"ran"
    assert plain[0] == str(os.getsid(0)).encode() and plain[3] == b"None"


def test_subprocess_shell_and_exec_argument_errors(loop):
    async def main():
        proc = await asyncio.create_subprocess_shell("echo $((40 + 2))", stdout=PIPE)
        out, _ = await proc.communicate()
        errors = []
        for kwargs in ({"universal_newlines": True}, {"bufsize": 1}, {"text": True},
                       {"encoding": "utf-8"}, {"errors": "strict"}):
            try:
                await loop.subprocess_exec(asyncio.SubprocessProtocol, "true", **kwargs)
            except ValueError as exc:
                errors.append(str(exc))
        try:
            await loop.subprocess_exec(asyncio.SubprocessProtocol, "true", shell=True)
        except ValueError as exc:
            errors.append(str(exc))
        try:
            await loop.subprocess_shell(asyncio.SubprocessProtocol, ["echo"])
        except ValueError as exc:
            errors.append(str(exc))
        return out, errors

    out, errors = run(loop, main())
    assert out == b"42\n"
    assert errors == ["universal_newlines must be False", "bufsize must be 0",
                      "text must be False", "encoding must be None",
                      "errors must be None", "shell must be False",
                      "cmd must be a string"]


# --- bad input ------------------------------------------------------------------------


def test_nonexistent_program_raises_file_not_found(loop):
    async def main():
        with pytest.raises(FileNotFoundError):
            await asyncio.create_subprocess_exec(
                "/nonexistent/aioloop-no-such-program", stdin=PIPE, stdout=PIPE, stderr=PIPE)
        with pytest.raises(FileNotFoundError):
            await loop.subprocess_exec(asyncio.SubprocessProtocol, "aioloop-no-such-program")
        # The shell itself exists: it reports 127.
        proc = await asyncio.create_subprocess_shell(
            "aioloop-no-such-program 2>/dev/null")
        return await proc.wait()

    assert run(loop, main()) == 127


def test_closed_loop_raises_runtime_error(loop):
    loop.close()
    coro = loop.subprocess_exec(asyncio.SubprocessProtocol, "true")
    with pytest.raises(RuntimeError, match="closed"):
        loop.run_until_complete(coro)
    coro.close()
    coro = asyncio.create_subprocess_exec("true")
    with pytest.raises(RuntimeError, match="closed"):
        loop.run_until_complete(coro)
    coro.close()


def test_closed_loop_driven_by_another_loop_spawns_nothing(loop, loop_factory, loop_name):
    if loop_name == "asyncio":
        pytest.skip("asyncio spawns the child, then fails in create_task()")
    loop.close()
    other = loop_factory()
    try:
        with pytest.raises(RuntimeError, match="closed"):
            other.run_until_complete(
                loop.subprocess_exec(asyncio.SubprocessProtocol, "sleep", "30"))
    finally:
        other.close()
    children = [p for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == os.getpid()]
    assert children == []


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def test_no_sigchld_handler_is_installed(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec("true")
        await proc.wait()

    run(loop, main())
    assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL


def test_debug_mode_logs_and_reprs(loop, caplog):
    # Debug mode goes through the logging paths (process created/exited,
    # pipes closed by peer) and the transports' reprs in every state.
    loop.set_debug(True)
    caplog.set_level("DEBUG", logger="asyncio")

    async def main():
        tr, proto = await loop.subprocess_exec(
            lambda: RecordingSubprocessProtocol(loop), SH, "-c", "cat; echo done >&2")
        reprs = [repr(tr), repr(tr.get_pipe_transport(0)), repr(tr.get_pipe_transport(1))]
        tr.get_pipe_transport(0).write(b"abc")
        tr.get_pipe_transport(1).pause_reading()
        tr.get_pipe_transport(1).resume_reading()
        tr.get_pipe_transport(0).close()
        await proto.done
        reprs += [repr(tr), repr(tr.get_pipe_transport(1))]
        tr.close()
        return reprs, proto

    reprs, proto = run(loop, main())
    assert bytes(proto.output[1]) == b"abc" and bytes(proto.output[2]) == b"done\n"
    assert "pid=" in reprs[0] and "running" in reprs[0]
    assert "fd=" in reprs[1] and "fd=" in reprs[2]
    assert "returncode=0" in reprs[3]
    assert "closed" in reprs[4]
    assert any("exited with return code 0" in r.getMessage() for r in caplog.records)
