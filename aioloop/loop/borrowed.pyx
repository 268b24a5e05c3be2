# asyncio's portable slow-path methods, bound to Loop from one manifest and
# checked when the module loads.
#
# Much of AbstractEventLoop is implemented by asyncio portably over any
# loop's primitives: the exception handler's formatting, async generator and
# executor shutdown, run_until_complete, address resolution, connections and
# servers (happy eyeballs via asyncio.staggered), datagram endpoints,
# start_tls, sendfile fallbacks, the sock_* coroutines we do not write in C,
# pipes and subprocesses. We bind asyncio's own functions to Loop, so argument
# checking, messages, log lines and ordering are each Python version's
# exactly; underneath they reach only what the C layers expose under
# asyncio's names (_make_socket_transport, _add_reader, _debug, ...).
#
# The price: such a function may read any attribute on `self`, and a Python
# release may add one (3.12's getaddrinfo calls self._getaddrinfo_debug, in
# debug mode only). So the binding is checked when the module loads: every
# name listed exists in this Python's asyncio, and every attribute the bound
# functions read on `self` -- debug-only branches and nested functions
# included -- exists on Loop. A mismatch fails the import, naming function
# and attribute, instead of failing in a user's accept path.
# tests/loop/test_borrowed.py runs the same check with dis on every Python.


# One row per source class: (class, bind, names). bind=False lists functions
# that are not bound but that our C code calls with a Loop as `self` (they
# are checked all the same). A name may be (name, since, until): a function
# that exists only on Pythons with since <= sys.version_info < until (either
# bound may be None); it is bound where it exists and required only there.
_ASYNCIO_MANIFEST = (
    (_base_events.BaseEventLoop, True, (
        '__repr__', 'run_until_complete', '_check_running', '_check_callback',
        '_set_coroutine_origin_tracking', 'set_debug',
        # errors
        'set_exception_handler', 'get_exception_handler',
        'default_exception_handler', 'call_exception_handler',
        # async generators
        '_asyncgen_firstiter_hook', '_asyncgen_finalizer_hook',
        'shutdown_asyncgens',
        # executor (run_in_executor itself is the daemon pool's short path)
        'set_default_executor', '_check_default_executor',
        'shutdown_default_executor', '_do_shutdown',
        # network: resolution, connections, servers, datagrams, TLS, sendfile
        'getaddrinfo', '_getaddrinfo_debug', 'getnameinfo', '_ensure_resolved',
        'create_connection', '_connect_sock', '_create_connection_transport',
        'create_server', '_create_server_getaddrinfo', 'connect_accepted_socket',
        'create_datagram_endpoint', 'start_tls',
        'sendfile', '_sendfile_fallback',
        'sock_sendfile', '_sock_sendfile_fallback', '_check_sendfile_params',
        # pipes and subprocesses (over unix/unixloop.pyx's transport factories)
        'connect_read_pipe', 'connect_write_pipe',
        'subprocess_exec', 'subprocess_shell', '_log_subprocess',
    )),
    # The sock_* coroutines other than sock_recv, sock_recv_into and
    # sock_sendall (those are C, net/netloop.pyx), and the accept path.
    (_selector_events.BaseSelectorEventLoop, True, (
        'sock_recvfrom', '_sock_recvfrom', 'sock_recvfrom_into', '_sock_recvfrom_into',
        'sock_sendto', '_sock_sendto',
        'sock_connect', '_sock_connect', '_sock_connect_cb',
        'sock_accept', '_sock_accept',
        '_sock_read_done', '_sock_write_done',
        '_accept_connection', '_accept_connection2', '_start_serving',
    )),
    (_unix_events._UnixSelectorEventLoop, True, (
        'create_unix_connection', 'create_unix_server',
        '_sock_sendfile_native', '_sock_sendfile_native_impl',
        '_sock_add_cancellation_callback', '_sock_sendfile_update_filepos',
    )),
    # EventLoopCore.create_task falls back to asyncio's in debug mode and
    # with a task factory (loop/loop.pyx).
    (_base_events.BaseEventLoop, False, ('create_task',)),
)

# Attributes the bound functions read that Loop sets on the instance, in
# Loop.__init__, rather than providing on the class.
_LOOP_INSTANCE_ATTRS = (
    '_unix_server_sockets',     # 3.13's create_unix_server (cleanup_socket)
)


def _manifest_entries(manifest, version=None):
    """Yield (source class, bind, name, required) for every manifest name;
    `required` is False for a version-dependent name outside its range."""
    if version is None:
        version = _sys.version_info
    for row in manifest:
        if len(row) != 3 or not isinstance(row[0], type):
            raise TypeError(f'a manifest row is (class, bind, names), got {row!r}')
        source, bind, names = row
        for entry in names:
            if isinstance(entry, str):
                yield source, bind, entry, True
            else:
                name, since, until = entry
                yield source, bind, name, (
                    (since is None or version >= since) and
                    (until is None or version < until))


def _bind_borrowed(target, manifest):
    """Set each bound manifest function that this Python has on `target`."""
    for source, bind, name, _ in _manifest_entries(manifest):
        func = source.__dict__.get(name)
        if bind and func is not None:
            setattr(target, name, func)


cdef dict _OP = _dis.opmap
cdef int _OP_CACHE = _OP.get('CACHE', -1)
cdef int _OP_EXTENDED_ARG = _OP['EXTENDED_ARG']
cdef int _OP_LOAD_DEREF = _OP['LOAD_DEREF']
cdef int _OP_LOAD_ATTR = _OP['LOAD_ATTR']
cdef int _OP_LOAD_METHOD = _OP.get('LOAD_METHOD', -1)       # 3.11 only
# 3.12 encodes a method-call flag in LOAD_ATTR's low bit.
cdef bint _LOAD_ATTR_SHIFTED = _sys.version_info >= (3, 12)
# Instructions that push one local (by index), and those with two indexes
# in their argument (3.13's LOAD_FAST_LOAD_FAST, STORE_FAST_LOAD_FAST), the
# second of which, arg & 15, ends on top of the stack.
cdef frozenset _OP_LOAD_LOCAL_PAIR = frozenset(
    op for name, op in _OP.items() if '_LOAD_FAST' in name)
cdef frozenset _OP_LOAD_LOCAL = frozenset(
    op for name, op in _OP.items()
    if name.startswith('LOAD_FAST') and op not in _OP_LOAD_LOCAL_PAIR)


@cython.boundscheck(True)
@cython.wraparound(True)
def _scan_code(code):
    """The instructions of `code` as (kind, value) pairs: ('load', name)
    for an instruction that pushes a local or a cell's value (the last one,
    for a pair), ('attr', name) for LOAD_ATTR/LOAD_METHOD, ('other', None)
    for the rest (EXTENDED_ARG and CACHE left out). What
    _dis_scan_code() reads from dis.get_instructions(), some twenty times
    cheaper, for the check at import; the tests compare the two."""
    cdef bytes co = code.co_code
    cdef Py_ssize_t i, n = len(co)
    cdef int op, arg, ext = 0
    cdef tuple names = code.co_names
    cdef tuple varnames = code.co_varnames
    # The fast-locals layout (3.11+): locals, then cells that are not
    # arguments, then free variables; LOAD_DEREF indexes it.
    cdef tuple localsplus = (varnames + tuple(
        c for c in code.co_cellvars if c not in varnames) + code.co_freevars)
    out = []
    for i in range(0, n, 2):
        op = co[i]
        arg = co[i + 1] | ext
        if op == _OP_EXTENDED_ARG:
            ext = arg << 8
            continue
        ext = 0
        if op == _OP_CACHE:
            continue
        if op in _OP_LOAD_LOCAL:
            out.append(('load', localsplus[arg]))
        elif op in _OP_LOAD_LOCAL_PAIR:
            out.append(('load', localsplus[arg & 15]))
        elif op == _OP_LOAD_DEREF:
            out.append(('load', localsplus[arg]))
        elif op == _OP_LOAD_ATTR:
            out.append(('attr', names[arg >> 1 if _LOAD_ATTR_SHIFTED else arg]))
        elif op == _OP_LOAD_METHOD:
            out.append(('attr', names[arg]))
        else:
            out.append(('other', None))
    return out


def _dis_scan_code(code):
    """_scan_code() through dis.get_instructions(): the reference."""
    out = []
    for ins in _dis.get_instructions(code):
        name = ins.opname
        if name == 'CACHE' or name == 'EXTENDED_ARG':
            continue        # neither ends a `self.attr` pair
        if (name.startswith('LOAD_FAST') or '_LOAD_FAST' in name
                or name == 'LOAD_DEREF'):
            val = ins.argval
            out.append(('load', val[len(val) - 1] if isinstance(val, tuple) else val))
        elif name in ('LOAD_ATTR', 'LOAD_METHOD'):
            out.append(('attr', ins.argval))
        else:
            out.append(('other', None))
    return out


def _self_reads(code, selfname=None, scan=_scan_code):
    """The attribute names `code` reads on its first argument (or on
    `selfname`), in nested functions too (a closure over self)."""
    if selfname is None:
        if not code.co_argcount:
            return set()
        selfname = code.co_varnames[0]
    reads = set()
    after_self = False
    for kind, val in scan(code):
        if kind == 'attr' and after_self:
            reads.add(val)
        after_self = kind == 'load' and val == selfname
    for const in code.co_consts:
        if isinstance(const, _types.CodeType) and selfname in const.co_freevars:
            reads |= _self_reads(const, selfname, scan)
    return reads


def _check_borrowed(target, manifest, instance_attrs=(), *, version=None,
                    scan=_scan_code):
    """What is wrong with `manifest` bound to class `target` (after
    _bind_borrowed()), as a list of sentences; empty when nothing is.
    `instance_attrs`: attributes that target's __init__ sets."""
    problems = []
    for source, bind, name, required in _manifest_entries(manifest, version):
        func = source.__dict__.get(name)
        where = f'{source.__module__}.{source.__qualname__}.{name}'
        if func is None:
            if required:
                problems.append(f'{where} does not exist in this Python')
            continue
        code = getattr(func, '__code__', None)
        if code is None:
            problems.append(f'{where} is not a Python function')
            continue
        if '__class__' in code.co_freevars:
            # Zero-argument super() ties a function to its own class.
            problems.append(f'{where} uses super() and cannot serve another class')
        if bind:
            for base in target.__mro__[1:]:
                if base is not object and base is not _asyncio.AbstractEventLoop \
                        and name in base.__dict__:
                    problems.append(
                        f'{where} would replace {base.__qualname__}.{name}: '
                        f'take it out of the manifest')
                    break
        try:
            reads = _self_reads(code, scan=scan)
        except Exception as exc:
            # A bytecode this reader does not know (a new Python).
            problems.append(f'{where}: cannot read its bytecode ({exc!r})')
            continue
        for attr in sorted(reads):
            if attr in instance_attrs:
                continue
            owner = next((k for k in target.__mro__ if attr in k.__dict__), None)
            if owner is None:
                problems.append(
                    f'{where} reads self.{attr}, which {target.__qualname__} lacks')
            elif owner is _asyncio.AbstractEventLoop:
                problems.append(
                    f'{where} reads self.{attr}, which {target.__qualname__} '
                    f'leaves to the abstract AbstractEventLoop')
    return problems


def _bind_and_verify(target, manifest, instance_attrs=()):
    """Bind `manifest` to `target`; ImportError naming every function and
    attribute that does not fit."""
    _bind_borrowed(target, manifest)
    problems = _check_borrowed(target, manifest, instance_attrs)
    if problems:
        raise ImportError(
            f'aioloop cannot bind asyncio {_sys.version.split()[0]}\'s '
            f'methods to {target.__qualname__}:\n  ' + '\n  '.join(problems))
