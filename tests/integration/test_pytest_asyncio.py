"""pytest-asyncio with aioloop: the two ways a user's test suite can run on it.

Each test writes a small user project (a conftest.py and a test module) and
runs pytest on it in a child process, so what is checked is exactly what
README tells a user to write:

- pytest-asyncio >= 1.4: the ``pytest_asyncio_loop_factories`` hook;
- pytest-asyncio 0.24 to 1.3: a session-scoped ``event_loop_policy`` fixture
  returning ``aioloop.EventLoopPolicy()`` (deprecated from 1.4 on, still works).

anyio's own pytest plugin is covered the same way (an ``anyio_backend``
fixture passing aioloop's loop factory). The user's tests assert that they run
on aioloop.Loop, and a run of the same
tests with no configuration must fail, which shows the assertion can.
"""

import subprocess
import sys
import textwrap

import pytest
import pytest_asyncio

PYTEST_ASYNCIO = tuple(int(x) for x in pytest_asyncio.__version__.split(".")[:2])

HOOK_CONFTEST = '''
import aioloop

def pytest_asyncio_loop_factories(config, item):
    return {"aioloop": aioloop.new_event_loop}
'''

POLICY_CONFTEST = '''
import aioloop
import pytest

@pytest.fixture(scope="session")
def event_loop_policy():
    return aioloop.EventLoopPolicy()
'''

USER_TESTS = '''
import asyncio

import aioloop
import pytest
import pytest_asyncio


@pytest_asyncio.fixture
async def echo_server():
    async def echo(reader, writer):
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_runs_on_aioloop():
    assert isinstance(asyncio.get_running_loop(), aioloop.Loop)


@pytest.mark.asyncio
async def test_async_fixture_on_the_same_loop(echo_server):
    assert isinstance(asyncio.get_running_loop(), aioloop.Loop)
    reader, writer = await asyncio.open_connection("127.0.0.1", echo_server)
    writer.write(b"ping")
    assert await reader.read(100) == b"ping"
    writer.close()
    await writer.wait_closed()


loops = []


@pytest.mark.asyncio(loop_scope="module")
async def test_module_scoped_loop_1():
    loops.append(asyncio.get_running_loop())


@pytest.mark.asyncio(loop_scope="module")
async def test_module_scoped_loop_2():
    loops.append(asyncio.get_running_loop())
    assert loops[0] is loops[1] and isinstance(loops[0], aioloop.Loop)
'''

ANYIO_CONFTEST = '''
import aioloop
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio", {"loop_factory": aioloop.new_event_loop}
'''

ANYIO_USER_TESTS = '''
import asyncio

import aioloop
import anyio
import pytest


@pytest.mark.anyio
async def test_runs_on_aioloop():
    assert isinstance(asyncio.get_running_loop(), aioloop.Loop)
    assert await anyio.to_thread.run_sync(sum, [1, 2, 3]) == 6
'''

PYTEST_INI = '''
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
'''


def run_user_project(tmp_path, conftest, tests=USER_TESTS):
    (tmp_path / "pytest.ini").write_text(PYTEST_INI)
    (tmp_path / "test_user.py").write_text(tests)
    if conftest is not None:
        (tmp_path / "conftest.py").write_text(textwrap.dedent(conftest))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W",
         "ignore::DeprecationWarning", "-p", "no:randomly"],
        cwd=tmp_path, capture_output=True, text=True, timeout=90)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.skipif(PYTEST_ASYNCIO < (1, 4), reason="the loop factories hook is new in pytest-asyncio 1.4")
def test_loop_factories_hook(tmp_path):
    status, out = run_user_project(tmp_path, HOOK_CONFTEST)
    assert status == 0 and "4 passed" in out, out


def test_event_loop_policy_fixture(tmp_path):
    status, out = run_user_project(tmp_path, POLICY_CONFTEST)
    assert status == 0 and "4 passed" in out, out


def test_without_configuration_the_tests_see_a_stock_loop(tmp_path):
    status, out = run_user_project(tmp_path, None)
    assert status == 1, out
    assert "3 failed, 1 passed" in out, out  # only module_scoped_loop_1 asserts nothing


def test_anyio_pytest_plugin(tmp_path):
    status, out = run_user_project(tmp_path, ANYIO_CONFTEST, ANYIO_USER_TESTS)
    assert status == 0 and "1 passed" in out, out
