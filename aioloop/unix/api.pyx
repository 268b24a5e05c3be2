# The Unix layer of the loop, Python side: the methods asyncio implements
# portably on top of the transport factories (connect_read_pipe,
# connect_write_pipe, subprocess_exec, subprocess_shell and the debug log
# helper). They are asyncio's own functions, bound to our loop as in
# net/api.pyx, so argument checking and messages are each Python version's;
# underneath they reach only _make_read_pipe_transport,
# _make_write_pipe_transport and _make_subprocess_transport (unixloop.pyx).

_UNIX_FROM_BASE = (
    'connect_read_pipe', 'connect_write_pipe',
    'subprocess_exec', 'subprocess_shell', '_log_subprocess',
)

UnixMethods = type('UnixMethods', (), {
    '__doc__': 'asyncio\'s portable pipe and subprocess methods, bound to aioloop\'s loop.',
    '__module__': __name__,
    **_borrow(_base_events.BaseEventLoop, _UNIX_FROM_BASE),
})
