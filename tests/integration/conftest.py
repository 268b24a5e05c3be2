"""Real applications on aioloop: shared fixtures for tests/integration/.

Every test here runs a widely used library (aiohttp, websockets, uvicorn,
anyio, pytest-asyncio) on an aioloop Loop and checks what it computed. Where
it is cheap the same test also runs on stock asyncio, as the oracle: a test
that fails on both is a test bug, one that fails only on aioloop is ours.

The libraries come from the ``integration`` extra
(``pip install -e '.[integration]'``). Without it this folder is skipped as a
whole, so ``pytest tests`` still works on a bare ``[test]`` install; tests/run.sh
installs the extra and sets AIOLOOP_INTEGRATION_REQUIRED=1, which turns a
missing library into an error instead of a skip, so CI can never pass by
skipping.
"""

import os

import pytest

# The guard: only a missing *library* skips. An aioloop failure is never caught here.
_REQUIRED = ("aiohttp", "websockets", "uvicorn", "anyio", "httpx", "trustme", "pytest_asyncio")
if os.environ.get("AIOLOOP_INTEGRATION_REQUIRED"):
    for _name in _REQUIRED:
        __import__(_name)
else:
    for _name in _REQUIRED:
        pytest.importorskip(_name, reason="install aioloop[integration] to run tests/integration")

from integration_support import LOOPS, make_runner  # noqa: E402

# Every test gets a hard time limit on top of the asyncio.timeout()s inside it,
# so a loop that stops waking up fails the test instead of hanging CI. SIGALRM
# is handled between epoll_wait()s like any other signal, which the
# signal method relies on.
TEST_TIMEOUT = 120


def pytest_collection_modifyitems(config, items):
    try:
        import pytest_timeout  # noqa: F401 (is the plugin there?)
    except ImportError:
        return
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


@pytest.fixture(params=list(LOOPS))
def loop_name(request):
    """The loop under test: 'aioloop', or 'asyncio' as the oracle."""
    return request.param


@pytest.fixture
def run(loop_name):
    """run(coro_fn, *args, timeout=60) runs coro_fn(*args) to completion on a new
    loop of the parametrised kind and returns its result. It first checks that
    the coroutine really runs on that kind of loop."""
    return make_runner(loop_name)


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    """A CA made for this run and a server certificate for 127.0.0.1 signed by it."""
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")

    class TLS:
        ca_pem = str(folder / "ca.pem")
        cert_pem = str(folder / "server.pem")  # key + chain

        def server_context(self):
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(ctx)
            return ctx

        def client_context(self):
            ctx = ssl.create_default_context()
            ca.configure_trust(ctx)
            return ctx

    ca.cert_pem.write_to_path(TLS.ca_pem)
    cert.private_key_and_cert_chain_pem.write_to_path(TLS.cert_pem)
    return TLS()
