"""Shared fixtures: the same test body runs on stock asyncio and on aioloop.

Stock asyncio is the oracle (as uvloop's test base does it): a test
parametrised with the `loop` fixture runs once per loop, ids "asyncio" and
"aioloop", so a difference between the two runs is a bug in aioloop.

`@pytest.mark.asyncio` tests run on aioloop's loop through pytest-asyncio's
`pytest_asyncio_loop_factories` hook (pytest-asyncio 1.4+; overriding the
`event_loop_policy` fixture is deprecated there).
"""

import asyncio

import pytest

import aioloop
from helpers import LOOP_FACTORIES, assert_no_fd_leak, open_fds


def pytest_asyncio_loop_factories(config, item):
    """pytest-asyncio hook: every asyncio-marked test runs on an aioloop Loop."""
    return {"aioloop": aioloop.new_event_loop}


@pytest.fixture(params=list(LOOP_FACTORIES))
def loop_name(request):
    """'asyncio' or 'aioloop': which loop this run of the test uses."""
    return request.param


@pytest.fixture
def loop_factory(loop_name):
    return LOOP_FACTORIES[loop_name]


@pytest.fixture
def loop(loop_factory):
    """A fresh loop of each kind, closed afterwards; the test fails if it
    leaves a descriptor open."""
    before = open_fds()
    lp = loop_factory()
    try:
        yield lp
    finally:
        if lp.is_running():  # pragma: no cover - a test went badly wrong
            lp.stop()
        if not lp.is_closed():
            lp.close()
        del lp
    assert_no_fd_leak(before)


@pytest.fixture(autouse=True)
def _restore_asyncio_state():
    """No test may leave a policy, a current loop or a running loop behind."""
    policy = asyncio.events._event_loop_policy
    yield
    asyncio.events._set_running_loop(None)
    if asyncio.events._event_loop_policy is not policy:
        asyncio.set_event_loop_policy(policy)
