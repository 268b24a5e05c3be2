"""An aiohttp server in its own process, for the cross-process tests.

    python serve_aiohttp.py --loop aioloop [--tls CERT_AND_KEY.pem]

Listens on 127.0.0.1 on OS-chosen ports (plain, and TLS when --tls is given),
prints one JSON line {"port": ..., "tls_port": ..., "loop": ...} when ready,
and shuts down cleanly when its standard input closes (the parent exiting
included), printing {"bye": true, "stats": ...} last.

Standard input is watched by a plain thread that wakes the loop with
call_soon_threadsafe (loop.connect_read_pipe is not needed), and there is no
signal handler (web.run_app would install one with loop.add_signal_handler).
"""

import argparse
import asyncio
import json
import ssl
import sys
import threading

from aiohttp import web

import integration_apps


async def serve(tls_pem):
    app = integration_apps.make_aiohttp_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ready = {"port": runner.addresses[0][1], "loop": integration_apps.loop_name()}
    if tls_pem:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls_pem)
        tls_site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await tls_site.start()
        ready["tls_port"] = runner.addresses[1][1]

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def watch_stdin():
        sys.stdin.buffer.read()  # returns at EOF
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps(ready), flush=True)
    await stop.wait()
    await runner.cleanup()
    print(json.dumps({"bye": True, "stats": app[integration_apps.STATS]}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=["aioloop", "asyncio"], default="aioloop")
    parser.add_argument("--tls")
    args = parser.parse_args()
    if args.loop == "aioloop":
        import aioloop

        aioloop.run(serve(args.tls))
    else:
        asyncio.run(serve(args.tls))


if __name__ == "__main__":
    main()
