"""Pipe transports: methods replaceable on the instance (as on asyncio's
Python transports), and the ReadTransport half of a write pipe transport,
which asyncio's _UnixWritePipeTransport inherits and refuses."""

import asyncio
import os
from unittest import mock

import pytest

from unix_helpers import run

READ_METHODS = ["pause_reading", "resume_reading", "is_reading", "close", "get_extra_info"]
WRITE_METHODS = ["write", "writelines", "write_eof", "close", "abort", "get_write_buffer_size"]


@pytest.mark.parametrize("name", READ_METHODS)
def test_read_pipe_method_can_be_replaced_on_the_instance(loop, name):
    rfd, wfd = os.pipe()

    async def main():
        transport, _ = await loop.connect_read_pipe(asyncio.Protocol, open(rfd, "rb", buffering=0))
        with mock.patch.object(transport, name) as replacement:
            getattr(transport, name)("arg")
            replacement.assert_called_once_with("arg")
        assert name not in vars(transport)
        transport.close()
        await asyncio.sleep(0)

    run(loop, main())
    os.close(wfd)


@pytest.mark.parametrize("name", WRITE_METHODS)
def test_write_pipe_method_can_be_replaced_on_the_instance(loop, name):
    rfd, wfd = os.pipe()

    async def main():
        transport, _ = await loop.connect_write_pipe(asyncio.Protocol, open(wfd, "wb", buffering=0))
        with mock.patch.object(transport, name) as replacement:
            getattr(transport, name)(b"arg")
            replacement.assert_called_once_with(b"arg")
        assert name not in vars(transport)
        transport.close()
        await asyncio.sleep(0)

    run(loop, main())
    os.close(rfd)


@pytest.mark.parametrize("name", ["pause_reading", "resume_reading", "is_reading"])
def test_write_pipe_refuses_the_read_half_with_not_implemented(loop, name):
    # asyncio's write pipe transport is an asyncio.Transport (through
    # _FlowControlMixin): the ReadTransport methods exist and raise
    # NotImplementedError, which callers that probe them catch.
    rfd, wfd = os.pipe()

    async def main():
        transport, _ = await loop.connect_write_pipe(asyncio.Protocol, open(wfd, "wb", buffering=0))
        assert isinstance(transport, asyncio.Transport)
        with pytest.raises(NotImplementedError):
            getattr(transport, name)()
        transport.close()
        await asyncio.sleep(0)

    run(loop, main())
    os.close(rfd)


def test_read_pipe_paused_reflects_pause_reading(loop):
    rfd, wfd = os.pipe()

    async def main():
        transport, _ = await loop.connect_read_pipe(asyncio.Protocol, open(rfd, "rb", buffering=0))
        assert transport._paused is False
        transport.pause_reading()
        assert transport._paused is True and not transport.is_reading()
        transport.resume_reading()
        assert transport._paused is False and transport.is_reading()
        transport.close()
        await asyncio.sleep(0)

    run(loop, main())
    os.close(wfd)
