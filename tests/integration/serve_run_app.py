"""aiohttp's web.run_app() in its own process, with its signal handling on.

    python serve_run_app.py --loop aioloop|asyncio

run_app() installs SIGINT and SIGTERM handlers with loop.add_signal_handler()
(and quietly goes without them when that raises NotImplementedError). Prints
{"port": ..., "loop": ...} when ready, "on_shutdown <loop>" from the app's
shutdown hook, and "run_app returned" at the end.
"""

import argparse
import asyncio
import json
import socket

from aiohttp import web

import integration_apps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=["aioloop", "asyncio"], default="aioloop")
    args = parser.parse_args()
    if args.loop == "aioloop":
        import aioloop

        loop = aioloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    app = integration_apps.make_aiohttp_app()

    async def on_startup(app):
        print(json.dumps({"port": sock.getsockname()[1], "loop": integration_apps.loop_name()}), flush=True)

    async def on_shutdown(app):
        print(f"on_shutdown {integration_apps.loop_name()}", flush=True)

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    web.run_app(app, sock=sock, loop=loop, print=None, handle_signals=True)
    print("run_app returned", flush=True)


if __name__ == "__main__":
    main()
