"""Run an ordinary asyncio program on aioloop and show which loop ran it.

    python examples/hello.py
"""
import asyncio
import sys

import aioloop


async def main():
    loop = asyncio.get_running_loop()
    started = loop.time()
    # A little of everything: tasks, timers, a thread-safe call, the executor.
    results = await asyncio.gather(*(asyncio.sleep(0.01 * i, result=i) for i in range(5)))
    square = await loop.run_in_executor(None, pow, 12, 2)
    done = loop.create_future()
    loop.call_soon_threadsafe(done.set_result, "threadsafe ok")
    print(f"loop: {type(loop).__module__}.{type(loop).__qualname__}")
    print(f"python: {sys.version.split()[0]}")
    print(f"gather: {results}, executor: {square}, {await done}")
    print(f"elapsed: {loop.time() - started:.3f}s")


if __name__ == "__main__":
    aioloop.run(main())
