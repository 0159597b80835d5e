"""Both code backends against the ops' own definitions, swept over the registry (issue 6 items 3 and 5).

For every op of ``OPS`` that takes arguments: it has an ``mpmath=`` definition, and a ``numpy=`` emitter, a
printer override or a lowering of its own; at generic points of its domain the numpy code (``md.lambdify``), the
mpmath code (``md.mpmath_function``) and the op's definition called directly agree to ~1e-12. The inputs are the
samples of tests/optable.py where the op has some, and a case built from the op's shape rule and domain alone, so
an op registered with ``defop`` is covered before anyone writes a sample for it. docs/extending.md's examples (a new
op, a CuPy-style backend) run here too, through the same sweep.
"""
from __future__ import annotations

import importlib.util
import inspect
import itertools
import re
import sys
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import mpmath
import numpy as np
import pytest
import sympy

import matderiv as md
from conftest import natural
from matderiv.codegen.lower import SPECIAL
from matderiv.codegen.mpmath import MpmathCodePrinter
from matderiv.codegen.numpy import NumPyPrinter
from matderiv.core import spec
from matderiv.core.expr import OPS, Expr, iter_nodes
from matderiv.core.functions import Fn, x as fn_x
from optable import LEAVES, SAMPLES

Case = tuple[str, Expr, list[Expr], list[np.ndarray]]
DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


# ---- inputs ----------------------------------------------------------------------------------------------------------
_SHAPES = [(3, 3), (3, 1), (3, 2), (2, 3), (1, 3), (1, 1), (9, 4), (6, 6), (2, 2)]


def _generic(rng: np.random.Generator, shape: tuple[int, int], hints: frozenset[str]) -> np.ndarray:
    """A generic value of ``shape`` drawn as the domain's hints say (see matderiv.core.domains.Domain)."""
    if "positive" in hints:
        return rng.uniform(0.5, 1.5, shape)
    v = rng.standard_normal(shape)
    if "small" in hints:
        v *= 0.3
    if {"spd", "symmetric"} & hints and shape[0] == shape[1]:
        v = v @ v.T + shape[0] * np.eye(shape[0]) if "spd" in hints else (v + v.T) / 2
    if "shift" in hints and shape[0] == shape[1]:
        v = v * 0.3 + 2 * np.eye(shape[0])
    return v


def auto_case(name: str) -> Case | None:
    """``name`` applied to symbols of the first shapes its rule accepts, at a generic point of its domain (None
    for an op whose definition takes params besides its arguments: its samples must say what they are)."""
    op = OPS[name]
    sig = inspect.signature(op.mpmath).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in sig):
        arity = 2  # n-ary
    elif op.arity is not None and len(sig) == op.arity:
        arity = op.arity
    else:  # params besides its arguments (power's exponent, apply's function): its samples give them
        return None
    for shapes in itertools.product(_SHAPES, repeat=arity):
        try:
            op.shape(spec.CONCRETE, tuple((sympy.Integer(r), sympy.Integer(c)) for r, c in shapes), ())
        except spec.ShapeFailure:
            continue
        syms = [md.matrix(f"a{i}", r, c) for i, (r, c) in enumerate(shapes)]
        e = op.make(syms, ())
        if e.op != name:  # a builder that simplified it away
            continue
        domain = op.domain_at(e)
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        for _ in range(50):
            vals = [_generic(rng, sh, domain.hints if domain else frozenset()) for sh in shapes]
            with mpmath.workdps(20):
                if domain is None or domain(mpmath.matrix(vals[0].tolist())):
                    return (f"{name}:auto", e, syms, vals)
        raise AssertionError(f"no generic point of the domain of {name!r} found")
    return None


def cases(name: str) -> list[Case]:
    """The samples of tests/optable.py for ``name`` and its automatic case."""
    out: list[Case] = []
    for smp in SAMPLES.get(name, []):
        F, syms = smp.make()
        rng = np.random.default_rng(zlib.crc32(f"{name}:{smp.id}".encode()))
        out.append((f"{name}:{smp.id}", F, syms, smp.values(rng)))
    auto = auto_case(name)
    if auto is not None:
        out.append(auto)
    return out


# ---- the op's definitions, called directly ---------------------------------------------------------------------------
def _param(p: Any) -> Any:
    """A param as an op's mpmath definition takes it: numbers as mpf (ints as they are), f(x) as a function."""
    if isinstance(p, Fn):
        return sympy.lambdify(fn_x, p.body, "mpmath")
    if isinstance(p, Fraction):
        return mpmath.mpf(p.numerator) / p.denominator
    return p


def by_definitions(e: Expr, env: dict[Expr, mpmath.matrix]) -> mpmath.matrix:
    """``e`` evaluated node by node with each op's own ``mpmath=`` definition (no generated code)."""
    memo: dict[Expr, mpmath.matrix] = {}
    for n in iter_nodes([e]):
        r, c = (int(d) for d in n.shape)
        if n.op == "symbol":
            v = env[n]
        elif n.op == "const":
            v = mpmath.matrix([[_param(n.params[0]) if not isinstance(n.params[0], int) else n.params[0]]])
        elif n.op in ("ones", "zeros"):
            v = (mpmath.ones if n.op == "ones" else mpmath.zeros)(r, c)
        elif n.op == "eye":
            v = mpmath.eye(r)
        else:
            v = OPS[n.op].mpmath(*(memo[a] for a in n.args), *(_param(p) for p in n.params))
        memo[n] = v
    return memo[e]


def _array(v: Any, shape: tuple[int, int]) -> np.ndarray:
    if isinstance(v, mpmath.matrix):
        return np.array(v.tolist(), dtype=float).reshape(shape)
    return np.asarray(v, dtype=float).reshape(shape)


def check_backends(name: str, e: Expr, syms: list[Expr], vals: list[np.ndarray]) -> None:
    """numpy code, mpmath code and the definitions agree on ``e`` at ``vals`` (2-D arrays, one per symbol)."""
    assert name in {n.op for n in iter_nodes([e])}, f"{e} does not use {name!r}"
    shape = tuple(int(d) for d in e.shape)
    with mpmath.workdps(30):
        env = {s: mpmath.matrix(v.tolist()) for s, v in zip(syms, vals)}
        want = _array(by_definitions(e, env), shape)
        got_mp = _array(md.mpmath_function(syms, e)(*(env[s] for s in syms)), shape)
    got_np = _array(md.lambdify(syms, e)(*(natural(v) for v in vals)), shape)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got_mp, want, rtol=1e-12, atol=1e-12 * scale, err_msg=f"mpmath code of {e}")
    np.testing.assert_allclose(got_np, want, rtol=1e-12, atol=1e-12 * scale, err_msg=f"numpy code of {e}")


def assert_op_covered(name: str) -> None:
    """The op has a definition and an emitter in every backend, and at least one case."""
    op = OPS[name]
    assert callable(op.mpmath), f"op {name!r} has no mpmath= definition"
    assert (op.numpy is not None or hasattr(NumPyPrinter, f"_print_{name}") or name in SPECIAL), \
        f"op {name!r} has no numpy= emitter and no NumPy printer override or lowering"
    assert cases(name), f"op {name!r} has params: it needs a sample in tests/optable.py"


# ---- the sweep -------------------------------------------------------------------------------------------------------
WITH_ARGS = sorted(set(OPS) - LEAVES)
ALL_CASES = [c for name in WITH_ARGS for c in cases(name)]


@pytest.mark.parametrize("name", WITH_ARGS)
def test_every_op_has_both_backends(name: str) -> None:
    assert_op_covered(name)


def test_leaves_have_printer_methods_or_their_own_numerics() -> None:
    for name in LEAVES:
        own = OPS[name].mpmath is not None and OPS[name].numpy is not None  # a dimension used as a number
        assert own or (hasattr(MpmathCodePrinter, f"_print_{name}") and name in SPECIAL), name


@pytest.mark.parametrize("case", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_numpy_and_mpmath_code_agree_with_the_definition(case: Case) -> None:
    name, e, syms, vals = case
    check_backends(name.split(":")[0], e, syms, vals)


def test_the_printer_has_no_copies_of_the_ops_emitters() -> None:
    """An op's numpy is written once: in its block, or as a printer override, never both."""
    both = [n for n, op in OPS.items() if op.numpy is not None and hasattr(NumPyPrinter, f"_print_{n}")]
    assert not both


def test_mpmath_module_includes_each_definition_once() -> None:
    A, v = md.matrix("A", 3, 3), md.vector("v", 3)
    src = md.mpmath_code([md.logsumexp(A) + md.sum(A), md.softmax(v), md.norm2(A)], [A, v])
    for helper in ("_entries", "_logsumexp", "_softmax", "_sum", "_norm2"):
        assert len(re.findall(rf"^def {helper}\(", src, re.M)) == 1, helper
    assert src.index("def _entries(") < src.index("def _logsumexp(")  # helpers first
    assert "_trace" not in src and "_kron" not in src and ": Any" not in src  # only what it uses, no annotations


def test_parameter_identifiers_are_safe() -> None:
    """A symbol named like a keyword, the module or a generated name gets a safe identifier in both backends."""
    # symbol names pass check_name, which refuses keywords today; the backends must not rely on it
    kw = Expr("symbol", (), ("lambda", False, (sympy.Integer(3), sympy.Integer(1))),
                           (sympy.Integer(3), sympy.Integer(1)))
    mp_ = md.vector("mpmath", 3)
    e = md.sum(kw * mp_)
    with mpmath.workdps(20):
        assert md.mpmath_function([kw, mp_], e)([1, 2, 3], [1, 1, 2]) == 9
    assert md.lambdify([kw, mp_], e)([1, 2, 3], [1, 1, 2]) == 9.0
    assert "def f(lambda_1, mpmath_1):" in md.mpmath_code(e, [kw, mp_])


# ---- docs/extending.md -----------------------------------------------------------------------------------------------
def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def scratch_registry() -> Iterator[None]:
    """Ops and text-language functions registered inside the test are gone after it."""
    saved = dict(OPS), dict(spec.FUNCTIONS), dict(spec._ARITY)
    yield
    for d, old in zip((OPS, spec.FUNCTIONS, spec._ARITY), saved):
        d.clear()
        d.update(old)


def _run_doc(tmp_path: Path, name: str, code: str) -> Any:
    """The doc's code as a module of its own file (so that inspect.getsource reads the op's definitions)."""
    path = tmp_path / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    spec_ = importlib.util.spec_from_file_location(name, path)
    assert spec_ is not None and spec_.loader is not None
    mod = importlib.util.module_from_spec(spec_)
    sys.modules[name] = mod
    try:
        spec_.loader.exec_module(mod)
    finally:
        sys.modules.pop(name, None)
    return mod


def test_doc_new_op_is_swept(tmp_path: Path, scratch_registry: None) -> None:
    """The doc's new op, registered with defop, passes the same sweep as the built-in ones, and certifies."""
    blocks = doc_blocks()
    assert len(blocks) >= 3
    ns = _run_doc(tmp_path, "extending_op", blocks[0] + "\n" + blocks[1])
    assert "sumsq" in OPS
    assert_op_covered("sumsq")
    for name, e, syms, vals in cases("sumsq"):
        check_backends("sumsq", e, syms, vals)
    X = md.matrix("X", "n", "m")
    assert str(md.grad(ns.sumsq(X), X)) == "2 * X"
    assert md.check(ns.sumsq(X @ X.T), X).ok


def test_doc_backend_runs_on_a_stand_in_cupy(tmp_path: Path, scratch_registry: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The doc's CuPy backend, run with numpy standing in for cupy: the same numbers as the NumPy backend."""
    monkeypatch.setitem(sys.modules, "cupy", np)
    blocks = doc_blocks()
    mod = _run_doc(tmp_path, "extending_backend", blocks[2])
    A, x = md.matrix("A", "n", "n"), md.vector("x", "n")
    f = md.logdet(A) + md.norm2(A @ x - 1) ** 2 + md.sum(md.softmax(x))
    src = mod.cupy_code(md.grad(f, A), [A, x])
    assert src.startswith("import cupy as cp\n") and "np." not in src and "cp.linalg" in src
    rng = np.random.default_rng(0)
    Av, xv = 3 * np.eye(4) + rng.standard_normal((4, 4)) * 0.3, rng.standard_normal(4)
    np.testing.assert_allclose(mod.cupy_lambdify([A, x], md.grad(f, A))(Av, xv),
                               md.lambdify([A, x], md.grad(f, A))(Av, xv), rtol=1e-13)
    for code in blocks[3:]:  # the doc's use of the backend
        exec(compile(code, str(DOC), "exec"), dict(vars(mod)))
