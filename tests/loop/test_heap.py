"""The first loop raises glibc's heap-trim threshold (loop/loop.pyx, "the C
heap"): a message of ~100 KiB, copied as the streams API copies it, must not
make free() return the heap top to the kernel and the next message fault it
back in page by page."""

import platform
import subprocess
import sys
import sysconfig

import pytest

pytestmark = [
    pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only"),
    pytest.mark.skipif(bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
                       reason="free-threaded CPython allocates objects with mimalloc, not malloc"),
]

SCRIPT = r"""
import resource, sys
if sys.argv[1] == "loop":
    import aioloop
    aioloop.new_event_loop().close()

def message():
    data = bytes(100_000)            # what a read hands over
    buf = bytearray(data)            # StreamReader's buffer
    out = bytes(buf)                 # what read() returns
    del data, buf, out

for _ in range(50):
    message()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(1000):
    message()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode):
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], check=True,
                         capture_output=True, text=True, timeout=60)
    return int(out.stdout)


def test_big_messages_do_not_fault_the_heap_back_in_after_a_loop_exists():
    control = page_faults("plain")
    if control < 1000:
        pytest.skip(f"this process's malloc does not trim here ({control} faults "
                    "in 1000 messages without a loop): nothing to compare")
    # Without the tuning each message costs tens of faults (25 pages of 4 KiB
    # per 100 KB block); with it the heap stays mapped.
    assert page_faults("loop") < 100, control
