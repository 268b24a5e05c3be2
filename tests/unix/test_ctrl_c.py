"""Ctrl-C (SIGINT) of a program run by aioloop.run(), compared with asyncio.run():
KeyboardInterrupt is raised in the main task, its cleanup runs, the loop is
closed and SIGINT's default handler is back. Each case runs in a child
process that the test interrupts."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PRELUDE = textwrap.dedent("""
    import asyncio, os, signal, sys
    import aioloop

    RUNNER = sys.argv[1]
    seen = {}

    def run(main):
        if RUNNER == "aioloop":
            return aioloop.run(main)
        with asyncio.Runner() as runner:    # stock asyncio (asyncio.run)
            return runner.run(main)

    def ready():
        seen["loop"] = asyncio.get_running_loop()
        print("ready", flush=True)
""")

EPILOGUE = textwrap.dedent("""
    try:
        run(main())
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    else:
        print("no interrupt", flush=True)
    print("loop closed" if seen["loop"].is_closed() else "loop open", flush=True)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    print("clean exit", flush=True)
""")

CASES = {
    "sleeping": """
        async def main():
            ready()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                print("main cancelled", flush=True)
                raise
    """,
    "busy": """
        async def main():
            ready()
            try:
                while True:                     # never sleeps in epoll
                    asyncio.get_running_loop().call_soon(lambda: None)
                    await asyncio.sleep(0)
            except asyncio.CancelledError:
                print("main cancelled", flush=True)
                raise
    """,
    "with_signal_handler": """
        async def main():
            # The wakeup fd is the loop's socket: SIGINT's byte lands there
            # and is ignored, and Runner's SIGINT handler still interrupts.
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: None)
            ready()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                print("main cancelled", flush=True)
                raise
    """,
    "waiting_for_child": """
        async def main():
            proc = await asyncio.create_subprocess_exec("sleep", "60")
            ready()
            try:
                await proc.wait()
            except asyncio.CancelledError:
                print("main cancelled", flush=True)
                proc.kill()
                print("child", await proc.wait(), flush=True)
                raise
    """,
}


def _spawn(code, runner):
    return subprocess.Popen(
        [sys.executable, "-c", code, runner],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Our own SIGINT state must not leak in: the child starts with the
        # default handler (Python installs default_int_handler).
        start_new_session=True)


@pytest.mark.parametrize("runner", ["asyncio", "aioloop"])
@pytest.mark.parametrize("case", list(CASES))
def test_ctrl_c_raises_keyboard_interrupt_in_main_task(case, runner):
    code = PRELUDE + textwrap.dedent(CASES[case]) + EPILOGUE
    proc = _spawn(code, runner)
    try:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.splitlines()
    assert proc.returncode == 0, err
    expected = ["main cancelled"]
    if case == "waiting_for_child":
        expected.append(f"child {-signal.SIGKILL}")
    expected += ["KeyboardInterrupt", "loop closed", "clean exit"]
    assert lines == expected, err


@pytest.mark.parametrize("factory", ["asyncio.new_event_loop", "aioloop.new_event_loop"])
def test_ctrl_c_without_runner_leaves_loop_usable(factory):
    # No Runner: the default SIGINT handler raises KeyboardInterrupt out of
    # run_until_complete(); the loop stays consistent and runs again.
    code = textwrap.dedent(f"""
        import asyncio, aioloop
        loop = {factory}()
        async def main():
            print("ready", flush=True)
            await asyncio.sleep(60)
        task = loop.create_task(main())
        try:
            loop.run_until_complete(task)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
        assert not loop.is_running()
        task.cancel()
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            print("task cancelled", flush=True)
        print(loop.run_until_complete(asyncio.sleep(0.01, "runs again")), flush=True)
        loop.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        # Without a Runner, KeyboardInterrupt is raised wherever the main
        # thread is: let the task reach its sleep so it lands in the poll.
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.splitlines() == ["KeyboardInterrupt", "task cancelled", "runs again"]
