"""python -m aioloop COMMAND: the command-line tools (--version: aioloop's version).

    bench      benchmark aioloop against asyncio and uvloop (python -m aioloop bench --help)
    ministat   summary statistics and Student's t-test of samples (also python -m aioloop.ministat)
"""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from . import __version__
        print(f"aioloop {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "bench":
        from .bench.cli import main as bench
        return bench(rest)
    if command == "ministat":
        from .ministat import main as ministat
        return ministat(rest)
    print(f"unknown command {command!r}\n\n{__doc__.strip()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
