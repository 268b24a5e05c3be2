"""Loop factories for tests/bench/test_bench.py: loops that fail in known ways.

The bench imports them in its worker processes as ``bench_loops:NAME``
(tests/ is put on PYTHONPATH by the test)."""

import asyncio


class NoServerLoop(asyncio.SelectorEventLoop):
    """A loop that runs callbacks but cannot serve."""

    async def create_server(self, *args, **kwargs):
        raise NotImplementedError("no servers on this loop")


def broken():
    raise RuntimeError("this loop cannot be made")
