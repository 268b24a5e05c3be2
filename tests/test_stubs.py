"""The type stubs against the runtime, so that they cannot drift silently.

aioloop/__init__.pyi must declare exactly aioloop.__all__, and
aioloop/aio/__init__.pyi exactly aioloop.aio.__all__ (a name added to
the package without its stub, or a stub for a name that is gone, fails
here), as aioloop/daemon.pyi and aioloop/aio/__init__.pyi must their
modules', and everything the stubs declare must exist at runtime with the
bases, methods and parameter names the stubs give it. The types themselves
are checked by tests/typing/check.sh (mypy --strict and pyright)."""

import ast
import inspect
import sys
from pathlib import Path

import pytest

import aioloop
from aioloop import _core, aio, daemon

STUBS = {"aioloop": (aioloop, Path(aioloop.__file__).with_name("__init__.pyi")),
         "aioloop._core": (_core, Path(aioloop.__file__).with_name("_core.pyi")),
         "aioloop.daemon": (daemon, Path(daemon.__file__).with_suffix(".pyi")),
         "aioloop.aio": (aio, Path(aio.__file__).with_name("__init__.pyi"))}
# The modules whose stub must declare exactly their __all__.
EXPORTING = ("aioloop", "aioloop.daemon", "aioloop.aio")

# Stub parameters named as the asyncio.AbstractEventLoop they override names
# them, where aioloop's (and asyncio's own loops') runtime name differs.
RENAMED = {("Loop", "sock_recv"): {"nbytes": "n"}}
# Stub parameters the runtime does not take, declared because the
# AbstractEventLoop stub of typeshed still declares them (an override cannot
# drop one): reuse_address left create_datagram_endpoint in Python 3.11
# (asyncio's loops refuse it too).
TYPESHED_ONLY = {
    ("Loop", "create_datagram_endpoint"): {"reuse_address"},
    # Typeshed's 3.13 AbstractEventLoop.create_task has eager_start=; asyncio
    # took it in a later 3.13 patch release, 3.13.0 does not.
    ("Loop", "create_task"): {"eager_start"},
}


def _tree(module):
    return ast.parse(STUBS[module][1].read_text())


def _branch(node):
    """The body of an `if sys.version_info ...:` that applies to this Python."""
    taken = eval(compile(ast.Expression(node.test), "<stub>", "eval"), {"sys": sys})
    return node.body if taken else node.orelse


def _is_type_check_only(node):
    return any(isinstance(d, ast.Name) and d.id == "type_check_only"
               for d in getattr(node, "decorator_list", ()))


def _top_level(tree):
    """name -> node of every name the stub binds at top level, looking into
    `if sys.version_info` branches; imports count as `import x as x` re-exports."""
    names = {}

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names[node.name] = node
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names[node.target.id] = node
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        names[t.id] = node
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.asname is not None and alias.asname == alias.name:
                        names[alias.asname] = node
            elif isinstance(node, ast.If):
                visit(_branch(node))

    visit(tree.body)
    return names


def _imports(tree):
    """The runtime objects the stub's imports name (for resolving its bases)."""
    namespace = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            code = compile(ast.Module([node], []), "<stub>", "exec")
            try:
                exec(code, {"__name__": "aioloop", "__package__": "aioloop"}, namespace)
            except ImportError:
                pass        # typing_extensions, where not installed: no base there
    return namespace


def _public(names):
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("module", EXPORTING)
def test_the_stub_declares_exactly_the_names_of_dunder_all(module):
    declared = _public(_top_level(_tree(module)))
    exported = set(STUBS[module][0].__all__)
    assert exported - declared == set(), f"in {module}.__all__ but not in its stub"
    assert declared - exported == set(), f"in {module}'s stub but not in its __all__"


@pytest.mark.parametrize("module", EXPORTING)
def test_the_stubs_dunder_all_is_the_runtimes(module):
    node = _top_level(_tree(module))["__all__"]
    assert tuple(ast.literal_eval(node.value)) == tuple(STUBS[module][0].__all__)


def test_the_stub_declares_the_version():
    names = _top_level(_tree("aioloop"))
    assert "__version__" in names and isinstance(aioloop.__version__, str)


def _members(cls_node):
    out = {}

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.setdefault(node.name, node)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                out.setdefault(node.target.id, node)
            elif isinstance(node, ast.If):
                visit(_branch(node))

    visit(cls_node.body)
    return out


def _stub_params(fn):
    a = fn.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    return [n for n in names if n != "self"], a.vararg is not None, a.kwarg is not None


def _check_params(where, stub_fn, runtime, renamed=None, extra=()):
    try:
        sig = inspect.signature(runtime)
    except (TypeError, ValueError):
        return []           # a builtin without a signature: nothing to compare
    params = sig.parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    var_pos = any(p.kind is p.VAR_POSITIONAL for p in params.values())
    names, stub_var_pos, stub_var_kw = _stub_params(stub_fn)
    problems = []
    for name in names:
        if name in extra:
            continue
        name = (renamed or {}).get(name, name)
        if name not in params and not var_kw:
            problems.append(f"{where}: the stub's parameter {name!r} is not in {sig}")
    if stub_var_pos and not var_pos:
        problems.append(f"{where}: the stub takes *args, the runtime {sig} does not")
    if stub_var_kw and not var_kw:
        problems.append(f"{where}: the stub takes **kwargs, the runtime {sig} does not")
    return problems


@pytest.mark.parametrize("module", sorted(STUBS))
def test_what_the_stubs_declare_exists_at_runtime_as_declared(module):
    runtime_module = STUBS[module][0]
    namespace = _imports(_tree(module))
    problems = []
    for name, node in _top_level(_tree(module)).items():
        if name.startswith("__") or _is_type_check_only(node):
            continue
        if isinstance(node, ast.ImportFrom) or not isinstance(
                node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if name in _public({name}) and not hasattr(runtime_module, name):
                problems.append(f"{module}.{name} is missing at runtime")
            continue
        if name.startswith("_"):
            continue
        obj = getattr(runtime_module, name, None)
        if obj is None:
            problems.append(f"{module}.{name} is missing at runtime")
            continue
        if isinstance(node, ast.ClassDef):
            if not isinstance(obj, type):
                problems.append(f"{module}.{name} is a class in the stub, not at runtime")
                continue
            for base in node.bases:
                text = ast.unparse(base)
                if text.startswith("Generic["):
                    continue
                if text == "NamedTuple":    # a function at runtime, not a base
                    if not (issubclass(obj, tuple) and hasattr(obj, "_fields")):
                        problems.append(f"{module}.{name} is not a NamedTuple at runtime")
                    continue
                base_obj = eval(text, {**vars(runtime_module), **namespace})
                if not issubclass(obj, base_obj):
                    problems.append(f"{module}.{name}: stub base {text} is not in the "
                                    f"runtime MRO {[b.__qualname__ for b in obj.__mro__]}")
            for member, mnode in _members(node).items():
                if member.startswith("__") and member not in ("__await__", "__iter__",
                                                              "__aenter__", "__aexit__",
                                                              "__enter__", "__exit__"):
                    continue
                if isinstance(mnode, ast.AnnAssign) and not hasattr(obj, member):
                    # an instance attribute: set in __init__
                    if f"self.{member} =" not in inspect.getsource(obj):
                        problems.append(f"{module}.{name}.{member} is never set at runtime")
                elif not hasattr(obj, member):
                    problems.append(f"{module}.{name}.{member} is missing at runtime")
                elif isinstance(mnode, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    attr = inspect.getattr_static(obj, member)
                    if isinstance(attr, property):
                        continue
                    problems += _check_params(f"{module}.{name}.{member}", mnode,
                                              getattr(obj, member),
                                              RENAMED.get((name, member)),
                                              TYPESHED_ONLY.get((name, member), ()))
        else:
            problems += _check_params(f"{module}.{name}", node, obj)
    assert problems == []


def test_generic_stub_classes_are_subscriptable_at_runtime():
    # The stubs make Spawned and Queue generic: an annotation such as
    # `aioloop.Queue[int]` evaluated at runtime must work too.
    for name, node in _top_level(_tree("aioloop")).items():
        if isinstance(node, ast.ClassDef) and any(
                ast.unparse(b).startswith("Generic[") for b in node.bases):
            alias = getattr(aioloop, name)[int]
            assert alias.__origin__ is getattr(aioloop, name)
