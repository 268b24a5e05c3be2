#!/usr/bin/env bash
# Type-check aioloop's stubs the way a user's tools see them:
#   bash tests/typing/check.sh PYTHON
# installs aioloop (from this checkout), mypy and basedpyright (pyright with
# node bundled as a wheel, so it runs without downloading node) into a
# throwaway venv made with PYTHON, then runs on tests/typing/example.py,
# which uses every documented entry point:
#   - mypy --strict on the example and on the stubs themselves
#     (aioloop/__init__.pyi, aioloop/_core.pyi: an override the stubs get
#     wrong is an error there);
#   - basedpyright in standard mode (pyright's own default checks).
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
"$VENV/bin/python" -m pip install -q --disable-pip-version-check mypy basedpyright
# The checkers read the stubs from the source tree (mypy_path / extraPaths):
# no build of the extension is needed to check its types.
echo "== $("$VENV/bin/mypy" --version); $("$VENV/bin/basedpyright" --version | tr '\n' ' ')"
echo "== python: $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"

status=0
echo "== mypy --strict tests/typing/example.py aioloop/__init__.pyi aioloop/_core.pyi"
MYPYPATH="$ROOT" "$VENV/bin/mypy" --strict --no-incremental --cache-dir=/dev/null \
    --python-executable "$VENV/bin/python" \
    tests/typing/example.py aioloop/__init__.pyi aioloop/_core.pyi || status=1

echo "== basedpyright (standard) tests/typing/example.py aioloop/__init__.pyi aioloop/_core.pyi"
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
    tests/typing/example.py aioloop/__init__.pyi aioloop/_core.pyi || status=1
rm -f "$cfg"

echo "== check.sh took $((SECONDS - start)) s: $([[ $status == 0 ]] && echo passed || echo FAILED)"
exit $status
