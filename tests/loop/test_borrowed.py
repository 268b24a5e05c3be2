"""asyncio's portable methods bound to Loop from one manifest
(aioloop/loop/borrowed.pyx), and the check that runs on it at import."""

import asyncio
import socket
import types

import pytest

import aioloop
from aioloop import _core


def _codes(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def test_manifest_fits_this_python_by_dis():
    # The import-time check, with dis.get_instructions() as the bytecode
    # reader: every listed name exists here, every attribute the functions
    # read on self (debug-only branches, closures) exists on Loop.
    assert _core._check_borrowed(
        aioloop.Loop, _core._ASYNCIO_MANIFEST, _core._LOOP_INSTANCE_ATTRS,
        scan=_core._dis_scan_code) == []


def test_fast_bytecode_scan_agrees_with_dis():
    n = 0
    for source, _, name, _ in _core._manifest_entries(_core._ASYNCIO_MANIFEST):
        func = source.__dict__.get(name)
        if func is None:
            continue
        for code in _codes(func.__code__):
            assert _core._scan_code(code) == _core._dis_scan_code(code), (name, code)
            n += 1
    assert n > 60


def test_every_manifest_function_is_bound_as_itself():
    for source, bind, name, _ in _core._manifest_entries(_core._ASYNCIO_MANIFEST):
        if bind and name in source.__dict__:
            assert aioloop.Loop.__dict__[name] is source.__dict__[name], name


def test_listed_instance_attributes_are_set_by_init():
    loop = aioloop.new_event_loop()
    try:
        for attr in _core._LOOP_INSTANCE_ATTRS:
            assert attr in vars(loop), attr
    finally:
        loop.close()


# --- the checker, on a fake loop --------------------------------------------

class _FakeSource:
    def fine(self):
        return self.present()

    def debug_only(self, x):
        if self._debug:
            return self._debug_helper(x)     # read only in debug mode
        return x

    def in_closure(self):
        def inner():
            return self.closure_only
        return inner

    def abstract_call(self):
        return self.run_in_executor(None, int)

    def replaced(self):
        return 1


class _FakeBase:
    def replaced(self):
        return 2


class _FakeTarget(_FakeBase, asyncio.AbstractEventLoop):
    _debug = False

    def present(self):
        return 1

    def __init__(self):
        self.closure_only = 3


def _fresh_target():
    return type('FakeLoop', (_FakeTarget,), {})


def test_checker_names_every_function_and_attribute_that_do_not_fit():
    manifest = (
        (_FakeSource, True, ('fine', 'debug_only', 'in_closure', 'abstract_call',
                             'replaced', 'gone')),
    )
    target = _fresh_target()
    _core._bind_borrowed(target, manifest)
    problems = _core._check_borrowed(target, manifest)
    text = '\n'.join(problems)
    assert 'debug_only reads self._debug_helper' in text
    assert 'in_closure reads self.closure_only' in text
    assert 'abstract_call reads self.run_in_executor' in text and 'abstract' in text
    assert '_FakeSource.gone does not exist' in text
    assert 'replaced would replace _FakeBase.replaced' in text
    assert not any('.fine ' in p for p in problems)
    assert len(problems) == 5
    # An attribute set in __init__ counts once it is declared.
    problems = _core._check_borrowed(target, manifest, ('closure_only',))
    assert not any('closure_only' in p for p in problems)


def test_checker_honours_version_dependent_names():
    manifest = ((_FakeSource, True, ('fine', ('gone', (3, 0), None))),)
    assert '_FakeSource.gone does not exist' in '\n'.join(
        _core._check_borrowed(_fresh_target(), manifest))
    future = ((_FakeSource, True, ('fine', ('gone', (99, 0), None),
                                   ('also_gone', None, (3, 0)))),)
    target = _fresh_target()
    _core._bind_borrowed(target, future)
    assert _core._check_borrowed(target, future) == []


def test_checker_checks_unbound_functions_too():
    manifest = ((_FakeSource, False, ('debug_only',)),)
    target = _fresh_target()
    _core._bind_borrowed(target, manifest)
    assert 'debug_only' not in vars(target)
    problems = _core._check_borrowed(target, manifest)
    assert len(problems) == 1
    assert problems[0].endswith(
        '_FakeSource.debug_only reads self._debug_helper, which FakeLoop lacks')


def test_bind_and_verify_raises_import_error_naming_function_and_attribute():
    manifest = ((_FakeSource, True, ('debug_only',)),)
    with pytest.raises(ImportError, match=r'debug_only reads self\._debug_helper'):
        _core._bind_and_verify(_fresh_target(), manifest)


def test_bad_manifest_row_is_a_type_error():
    with pytest.raises(TypeError, match='manifest row'):
        _core._check_borrowed(_fresh_target(), (('fine',),))


def test_super_using_function_is_refused():
    class WithSuper(_FakeBase):
        def replaced(self):
            return super().replaced()
    manifest = ((WithSuper, True, ('replaced',)),)
    target = type('T', (asyncio.AbstractEventLoop,), {})
    _core._bind_borrowed(target, manifest)
    assert any('uses super()' in p for p in _core._check_borrowed(target, manifest))


# --- the bug the check exists for -------------------------------------------

def test_getaddrinfo_in_debug_mode(loop):
    loop.set_debug(True)
    infos = loop.run_until_complete(
        loop.getaddrinfo('localhost', 80, type=socket.SOCK_STREAM))
    assert infos and all(info[1] == socket.SOCK_STREAM for info in infos)


def test_open_connection_to_localhost_under_asyncio_run_debug(loop_factory):
    async def main():
        assert asyncio.get_running_loop().get_debug()
        got = []

        async def handle(reader, writer):
            got.append(await reader.read(5))
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection('localhost', port)
            writer.write(b'hello')
            await writer.drain()
            assert await reader.read() == b''
            writer.close()
            await writer.wait_closed()
        return got

    # asyncio.run(main(), debug=True), on either loop.
    with asyncio.Runner(debug=True, loop_factory=loop_factory) as runner:
        assert runner.run(main()) == [b'hello']


def test_unreadable_bytecode_is_reported_not_raised():
    def broken_scan(code):
        raise IndexError('unknown instruction')
    manifest = ((_FakeSource, True, ('fine',)),)
    target = _fresh_target()
    _core._bind_borrowed(target, manifest)
    problems = _core._check_borrowed(target, manifest, scan=broken_scan)
    assert len(problems) == 1 and 'cannot read its bytecode' in problems[0]
