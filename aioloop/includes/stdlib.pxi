# Every Python module the _core extension imports, once, here (included first
# by _core.pyx, so every file of the extension sees these names).
#
# Naming rule: a module is bound to `_` + its dotted path with the dots as
# underscores (`_os`, `_concurrent_futures_thread`), except asyncio's own
# submodules, which drop the `asyncio_` prefix as asyncio's code names them
# (`_base_events`, `_events`, `_futures`). A name taken from a module (not a
# module) is bound where it is used, as a `cdef object`, so that a reader
# sees the extension's dependencies on this one page.

import collections as _collections
import concurrent.futures as _concurrent_futures
import concurrent.futures.thread as _concurrent_futures_thread
import dis as _dis
import errno as _errno
import inspect as _inspect
import os as _os
import select as _select
import signal as _signal
import socket as _socket
import stat as _stat
import sys as _sys
import threading as _threading
import time as _time
import types as _types
import warnings as _warnings
import weakref as _weakref

import asyncio as _asyncio
import asyncio.base_events as _base_events
import asyncio.constants as _constants
import asyncio.events as _events
import asyncio.format_helpers as _format_helpers
import asyncio.futures as _futures
import asyncio.log as _log
import asyncio.selector_events as _selector_events
import asyncio.sslproto as _sslproto
import asyncio.trsock as _trsock
import asyncio.unix_events as _unix_events

# asyncio's logger: every file of the extension logs through it, as asyncio does.
cdef object _logger = _log.logger
