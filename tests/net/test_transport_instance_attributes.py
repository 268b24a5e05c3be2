"""Transport methods can be replaced on an instance, as on asyncio's Python
transports (`transport.write = mock`, mock.patch.object(transport, "write")),
and asyncio-internal attributes that libraries read exist with asyncio's
meaning."""

import asyncio
import socket
from unittest import mock

import pytest

STREAM_METHODS = ["write", "writelines", "write_eof", "close", "abort", "pause_reading",
                  "resume_reading", "is_reading", "is_closing", "get_extra_info",
                  "set_write_buffer_limits", "get_write_buffer_size", "set_protocol"]
DATAGRAM_METHODS = ["sendto", "close", "abort", "is_closing", "get_extra_info",
                    "pause_reading", "resume_reading"]


async def stream_pair():
    """(our transport, its protocol, the peer socket) over a socketpair."""
    loop = asyncio.get_running_loop()
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    transport, protocol = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    return transport, protocol, peer


@pytest.mark.parametrize("name", STREAM_METHODS)
def test_stream_transport_method_can_be_replaced_on_the_instance(run, name):
    async def main():
        transport, _, peer = await stream_pair()
        with peer:
            original = getattr(transport, name)
            replacement = mock.Mock(name=name)
            setattr(transport, name, replacement)
            assert getattr(transport, name) is replacement
            getattr(transport, name)(b"x")
            replacement.assert_called_once_with(b"x")
            del transport.__dict__[name]
            assert getattr(transport, name) == original
            transport.abort()
            await asyncio.sleep(0)
    run(main)


def test_patched_write_is_what_a_stream_writer_calls_and_is_restored(run):
    async def main():
        loop = asyncio.get_running_loop()
        transport, _, peer = await stream_pair()
        with peer:
            with mock.patch.object(transport, "write") as write:
                transport.write(b"mocked")
                write.assert_called_once_with(b"mocked")
                await asyncio.sleep(0.01)
                with pytest.raises(BlockingIOError):
                    peer.recv(100)          # the real write() never ran
            assert "write" not in vars(transport)
            transport.write(b"real")
            assert await asyncio.wait_for(loop.sock_recv(peer, 100), 5) == b"real"
            transport.close()
            await asyncio.sleep(0)
    run(main)


def test_patched_close_is_what_eof_calls(run):
    # Both loops' read path closes through self.close() after an EOF that
    # eof_received() did not keep open: a replacement is called there too.
    async def main():
        transport, _, peer = await stream_pair()
        with peer:
            with mock.patch.object(transport, "close") as close:
                peer.shutdown(socket.SHUT_WR)
                for _ in range(100):
                    if close.called:
                        break
                    await asyncio.sleep(0.01)
                # close() never happened, so the EOF keeps being reported.
                assert close.called
                assert all(c == mock.call() for c in close.call_args_list)
            transport.close()
            await asyncio.sleep(0)
    run(main)


@pytest.mark.parametrize("name", DATAGRAM_METHODS)
def test_datagram_transport_method_can_be_replaced_on_the_instance(run, name):
    async def main():
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        with mock.patch.object(transport, name) as replacement:
            getattr(transport, name)(1, 2)
            replacement.assert_called_once_with(1, 2)
        assert name not in vars(transport)
        transport.close()
        await asyncio.sleep(0)
    run(main)


def test_transport_takes_new_attributes(run):
    async def main():
        transport, _, peer = await stream_pair()
        with peer:
            transport.user_tag = "mine"
            assert transport.user_tag == "mine"
            assert vars(transport)["user_tag"] == "mine"
            transport.close()
            await asyncio.sleep(0)
    run(main)
