"""One benchmark process: ``python -m aioloop.bench.worker ROLE SPEC``.

ROLE is ``micro`` (run one micro benchmark, print its result), ``multicore``
(run one variant of a multicore workload, print its result), ``echo`` or
``http`` (serve on 127.0.0.1, print ``{"ready": PORT, "pid": PID}``, run until
killed).  SPEC is a JSON object: ``loop`` ("module:factory") and the role's
parameters (``multicore``: ``variant`` and ``params``, no loop).  Every failure is printed as one ``{"error": ...}`` line naming
the exception and the method it came from, e.g. ``NotImplementedError in
loop.create_server()``, and the process exits with status 1.
"""

import asyncio
import json
import os
import socket
import sys


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def describe_error(exc):
    """'Type: message in loop.method()' for an exception: short enough for a table
    cell, precise enough to know what to implement or fix."""
    text = type(exc).__name__
    if str(exc):
        text += f": {str(exc)[:200]}"
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        # the innermost frame names what failed; say "loop." when it was a loop method
        owner = tb.tb_frame.f_locals.get("self")
        prefix = "loop." if isinstance(owner, asyncio.AbstractEventLoop) else ""
        text += f" in {prefix}{tb.tb_frame.f_code.co_name}()"
    return text


def set_nodelay(sock):
    """TCP_NODELAY on an accepted connection, whatever the loop's own default
    (stock asyncio sets it only when the listening socket was made with
    IPPROTO_TCP, uvloop always), so that every loop serves the same sockets."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def report_exception(context_label, exc):
    """A server's handler failed: say so on stderr, where the parent reads it
    if the load client then fails."""
    sys.stderr.write(f"{context_label}: {describe_error(exc)}\n")
    sys.stderr.flush()


def _exception_handler(loop, context):
    exc = context.get("exception")
    if exc is not None:
        report_exception(context.get("message", "loop error"), exc)
    else:
        sys.stderr.write(f"{context.get('message')}\n")


def serve(loop, setup):
    """Run coroutine function `setup` (it starts a server and returns its port),
    announce the port, then serve until killed."""
    try:
        port = loop.run_until_complete(setup(loop))
    except Exception as e:
        emit({"error": describe_error(e)})
        return 1
    emit({"ready": port, "pid": os.getpid()})
    loop.run_forever()
    return 0


def main(argv):
    role, spec = argv[0], json.loads(argv[1])
    if role == "multicore":  # its variants make their own loops and threads
        from . import multicore
        try:
            result = multicore.run_in_worker(spec)
        except Exception as e:
            emit({"error": describe_error(e)})
            return 1
        if result is not None:
            emit(result)
        return 0
    from . import loops  # after argv parsing: nothing to import for a usage error

    try:
        factory = loops.load_factory(spec["loop"])
    except Exception as e:
        emit({"error": f"cannot import {spec['loop']}: {describe_error(e)}"})
        return 1
    try:
        loop = factory()
    except Exception as e:
        emit({"error": f"{spec['loop']}() failed: {describe_error(e)}"})
        return 1
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(_exception_handler)

    if role == "micro":
        from . import micro
        try:
            result = micro.run_in_worker(loop, spec["name"], spec.get("repeat", 1))
        except Exception as e:
            emit({"error": describe_error(e)})
            return 1
        emit(result)
        return 0
    if role == "echo":
        from . import echo
        return serve(loop, echo.SERVERS[spec["kind"]])
    if role == "http":
        try:
            from . import http
        except ImportError as e:
            emit({"error": describe_error(e)})
            return 1
        return serve(loop, http.start_server)
    emit({"error": f"unknown role {role!r}"})
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
