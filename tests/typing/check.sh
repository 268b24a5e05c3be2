#!/usr/bin/env bash
# Type-check aioloop's stubs the way a user's tools see them:
#   bash tests/typing/check.sh PYTHON
# installs aioloop (from this checkout), mypy and basedpyright (pyright with
# node bundled as a wheel, so it runs without downloading node) into a
# throwaway venv made with PYTHON, then runs on tests/typing/example.py,
# which uses every documented entry point:
#   - mypy --strict on the example and on the stubs themselves
#     (aioloop/__init__.pyi, aioloop/_core.pyi, aioloop/aio/__init__.pyi:
#     an override the stubs get wrong is an error there);
#   - basedpyright in standard mode (pyright's own default checks);
#   - mypy's stubtest, which imports aioloop and compares the stubs with the
#     runtime (names, kinds, parameters, defaults), when the extension is
#     built in this tree for PYTHON's version (pip install -e ., as
#     tests/run.sh does); tests/typing/stubtest-allowlist.txt lists what it
#     reports on purpose. Without a build it says it skipped.
# Any error fails. AIOLOOP_TYPING_VENV=DIR keeps and reuses the venv.
set -euo pipefail

PYTHON=${1:?usage: tests/typing/check.sh PYTHON}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

if [[ -n "${AIOLOOP_TYPING_VENV:-}" ]]; then
    VENV=$AIOLOOP_TYPING_VENV
else
    VENV=$(mktemp -d "${TMPDIR:-/tmp}/aioloop-typing.XXXXXX")
    trap 'rm -rf "$VENV"' EXIT
fi
start=$SECONDS
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
if ! log=$("$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        mypy basedpyright dnspython 2>&1); then
    echo "$log" >&2
    exit 1
fi
# The checkers read the stubs from the source tree (mypy_path / extraPaths):
# no build of the extension is needed to check its types.
echo "== $("$VENV/bin/mypy" --version); $("$VENV/bin/basedpyright" --version | tr '\n' ' ')"
echo "== python: $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"

status=0
echo "== mypy --strict tests/typing/example.py aioloop/__init__.pyi aioloop/_core.pyi aioloop/aio/__init__.pyi"
MYPYPATH="$ROOT" "$VENV/bin/mypy" --strict --no-incremental --cache-dir=/dev/null \
    --python-executable "$VENV/bin/python" \
    tests/typing/example.py aioloop/__init__.pyi aioloop/_core.pyi aioloop/aio/__init__.pyi || status=1

echo "== basedpyright (standard) tests/typing/example.py aioloop/__init__.pyi aioloop/_core.pyi aioloop/aio/__init__.pyi"
cfg=$(mktemp "${TMPDIR:-/tmp}/aioloop-pyright.XXXXXX.json")
cat > "$cfg" <<JSON
{
  "typeCheckingMode": "standard",
  "extraPaths": ["$ROOT"],
  "pythonVersion": "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')",
  "reportMissingModuleSource": "none"
}
JSON
"$VENV/bin/basedpyright" --pythonpath "$VENV/bin/python" -p "$cfg" \
    tests/typing/example.py aioloop/__init__.pyi aioloop/_core.pyi aioloop/aio/__init__.pyi || status=1
rm -f "$cfg"

suffix=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
if [[ -e "$ROOT/aioloop/_core$suffix" ]]; then
    echo "== stubtest aioloop (the stubs against the imported runtime)"
    ini=$(mktemp "${TMPDIR:-/tmp}/aioloop-stubtest.XXXXXX.ini")
    # The modules without stubs are read as untyped code: their own typing
    # is not what is checked here, the stubs are.
    printf '[mypy]\nignore_missing_imports = True\n[mypy-aioloop.*]\nignore_errors = True\n' > "$ini"
    (cd "$(dirname "$ini")" && PYTHONPATH="$ROOT" MYPYPATH="$ROOT" "$VENV/bin/python" -m mypy.stubtest aioloop \
        --concise --ignore-missing-stub --ignore-disjoint-bases --ignore-unused-allowlist \
        --mypy-config-file "$ini" \
        --allowlist "$ROOT/tests/typing/stubtest-allowlist.txt") \
        && echo "stubtest: no issues" || status=1
    rm -f "$ini"
else
    echo "== stubtest skipped: no aioloop/_core$suffix in this tree (pip install -e . with PYTHON builds it)"
fi

echo "== check.sh took $((SECONDS - start)) s: $([[ $status == 0 ]] && echo passed || echo FAILED)"
exit $status
