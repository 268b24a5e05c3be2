"""examples/aio_echo.py: the callback-only echo server's self-test, run as a
program on 4 dispatch threads; every byte sent must come back and the log
must be fsynced by the daemon pool at least once."""

import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "aio_echo.py"


def test_the_callback_style_echo_server_echoes_everything_and_fsyncs():
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--clients", "6", "--messages", "300"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r"status 0: (\d+) connections, (\d+) bytes echoed, (\d+) fsyncs \((\d+) failed\)",
                  proc.stdout)
    assert m, proc.stdout
    conns, nbytes, fsyncs, failed = map(int, m.groups())
    sent = sum(len(f"client {k} message {i} ".encode()) * (1 + i % 50)
               for k in range(6) for i in range(300))
    assert (conns, nbytes, failed) == (6, sent, 0)
    assert fsyncs >= 1
