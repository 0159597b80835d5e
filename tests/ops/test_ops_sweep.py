"""Every op of the registry through every layer, from the one table of tests/optable.py: its VJP (simplified and
raw) against float64 central differences of the table's numpy definition and certified by md.check at 50 digits,
its numpy and mpmath code equal to that definition, its text and SymPy round trips. (LaTeX: tests/test_katex.py
renders every sample.) A new op is swept as soon as it has a row in the table.
"""
from __future__ import annotations

import zlib

import mpmath
import numpy as np
import pytest

import matderiv as md
from conftest import assert_canonical, assert_vjp, ev, natural
from matderiv.ad import vjp_raw
from matderiv.core.expr import OPS, iter_nodes
from matderiv.core.functions import NAMED
from optable import ALL, IDS, LEAVES, NUMPY, SAMPLES, Sample, reference


def _values(op: str, smp: Sample) -> tuple[md.Expr, list[md.Expr], list[np.ndarray], np.random.Generator]:
    F, syms = smp.make()
    assert op in {n.op for n in iter_nodes([F])}, f"the sample {F} does not use '{op}'"
    rng = np.random.default_rng(zlib.crc32(f"{op}:{smp.id}".encode()))
    return F, syms, smp.values(rng), rng


def test_table_covers_every_op() -> None:
    with_args = set(OPS) - LEAVES
    assert {n for n, op in OPS.items() if op.vjp is None} == LEAVES, "an op with arguments has no VJP rule"
    assert {n for n, op in OPS.items() if op.jvp is None} == LEAVES, "an op with arguments has no JVP rule"
    assert set(SAMPLES) == with_args, "every op needs samples in tests/optable.py"
    assert set(NUMPY) == with_args, "every op needs its numpy definition in tests/optable.py"
    assert {smp.id for smp in SAMPLES["apply"]} >= set(NAMED), "every named elementwise function has a sample"


@pytest.mark.parametrize("op,smp", ALL, ids=IDS)
def test_vjp_matches_finite_differences(op: str, smp: Sample) -> None:
    F, syms, xs, rng = _values(op, smp)
    f = smp.f(syms)
    ref = f(*xs)
    assert np.shape(ref) == tuple(int(d) for d in F.shape)
    Z = md.matrix("Z", *F.shape)
    seed = rng.standard_normal(np.shape(ref))
    env = dict(zip(syms, xs)) | {Z: seed}
    simplified = md.vjp(F, syms, Z)
    raw = vjp_raw(F, syms, Z)  # the rules themselves, before simplification
    for c in simplified:
        assert_canonical(c)
    for cotangents in (simplified, raw):
        values = ev(list(cotangents), env)
        assert_vjp(f, xs, dict(enumerate(values)), seed=seed, rng=rng)


@pytest.mark.slow
@pytest.mark.parametrize("op,smp", ALL, ids=IDS)
def test_vjp_certified(op: str, smp: Sample) -> None:
    """The VJPs certified by md.check (mpmath central differences at 50 digits, generic points of the domain)."""
    F, syms = smp.make()
    Z = md.matrix("Z", *F.shape)
    for s in syms:
        report = md.check(F, s, seed=Z)
        assert report.ok, str(report)


@pytest.mark.parametrize("op,smp", ALL, ids=IDS)
def test_numpy_and_mpmath_code_compute_the_definition(op: str, smp: Sample) -> None:
    """md.lambdify (float64) and md.mpmath_function (30 digits) give the table's numpy value to 1e-12."""
    F, syms, xs, _ = _values(op, smp)
    want = smp.f(syms)(*xs)
    got_np = np.asarray(md.lambdify(syms, F)(*(natural(x) for x in xs)), dtype=float).reshape(want.shape)
    with mpmath.workdps(30):
        v = md.mpmath_function(syms, F)(*(mpmath.matrix(x.tolist()) for x in xs))
    got_mp = np.array(v.tolist() if isinstance(v, mpmath.matrix) else [[v]], dtype=float).reshape(want.shape)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got_np, want, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(got_mp, want, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("op,smp", [(o, s) for o, s in ALL if s.text],
                         ids=[i for i, (_, s) in zip(IDS, ALL) if s.text])
def test_text_round_trip(op: str, smp: Sample) -> None:
    F, _ = smp.make()
    fns = {n.params[0].name: n.params[0].body for n in iter_nodes([F])
           if n.op == "apply" and n.params[0].name not in NAMED}
    assert md.parse(md.to_text(F), **fns) == F


@pytest.mark.parametrize("op,smp", [(o, s) for o, s in ALL if s.sympy],
                         ids=[i for i, (_, s) in zip(IDS, ALL) if s.sympy])
def test_sympy_round_trip(op: str, smp: Sample) -> None:
    """to_sympy then from_sympy computes the same values; exactly the same expression when SymPy has the op."""
    F, syms, xs, _ = _values(op, smp)
    back = md.from_sympy(md.to_sympy(F))
    if OPS[op].from_sympy:
        assert back == F
    names = {s.name: x for s, x in zip(syms, xs)}
    dims = {d.name: n for s, x in zip(syms, xs) for d, n in zip(s.shape, x.shape) if d.is_Symbol}
    np.testing.assert_allclose(reference(back, names, dims), reference(F, names, dims), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op,smp", ALL, ids=IDS)
def test_jvp_rules_are_the_adjoints_of_the_vjp_rules(op: str, smp: Sample) -> None:
    """⟨U, J V⟩ = ⟨Jᵀ U, V⟩ for every op's JVP rule (the linear and bilinear ones derive theirs), and J V against
    float64 central differences of the table's numpy definition."""
    from matderiv.ad import jvp_raw
    F, syms, xs, rng = _values(op, smp)
    U = md.matrix("U", *F.shape)
    vs = [md.matrix(f"V{i}", *s.shape) for i, s in enumerate(syms)]
    jv = jvp_raw(F, dict(zip(syms, vs)))  # the rules themselves
    jv_simplified = md.jvp(F, dict(zip(syms, vs)))  # md.jvp: the same, simplified
    assert_canonical(jv_simplified)
    ct = md.vjp(F, syms, U)
    u = rng.standard_normal(tuple(int(d) for d in F.shape))
    dirs = [rng.standard_normal(x.shape) for x in xs]
    env = dict(zip(syms, xs)) | {U: u} | dict(zip(vs, dirs))
    jv_val, jv_simplified_val, *ct_vals = ev([jv, jv_simplified, *ct], env)
    lhs = float(np.sum(u * jv_val))
    rhs = sum(float(np.sum(c * d)) for c, d in zip(ct_vals, dirs))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))
    f, h = smp.f(syms), 1e-6
    fd = (f(*[x + h * d for x, d in zip(xs, dirs)]) - f(*[x - h * d for x, d in zip(xs, dirs)])) / (2 * h)
    np.testing.assert_allclose(jv_val, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jv_simplified_val, fd, rtol=1e-6, atol=1e-7)


def _mp(x: np.ndarray) -> mpmath.matrix:
    return mpmath.matrix(x.tolist())


def _mp_array(v: object, shape: tuple[int, ...]) -> list[list[mpmath.mpf]]:
    m = v if isinstance(v, mpmath.matrix) else mpmath.matrix([[v]])
    assert (m.rows, m.cols) == shape, ((m.rows, m.cols), shape)
    return [[m[i, j] for j in range(m.cols)] for i in range(m.rows)]


@pytest.mark.slow
@pytest.mark.parametrize("op,smp", ALL, ids=IDS)
def test_jvp_certified(op: str, smp: Sample) -> None:
    """md.jvp certified at 50 digits: its mpmath code against mpmath central differences (h = 1e-20, error
    ~h² = 1e-40) of the op definitions' mpmath code, along random directions, to 30 digits."""
    F, syms, xs, rng = _values(op, smp)
    vs = [md.matrix(f"V{i}", *s.shape) for i, s in enumerate(syms)]
    jv = md.jvp(F, dict(zip(syms, vs)))
    dirs = [rng.standard_normal(x.shape) for x in xs]
    shape = tuple(int(d) for d in F.shape)
    with mpmath.workdps(50):
        f = md.mpmath_function(syms, F)
        h = mpmath.mpf(10) ** -20
        plus = _mp_array(f(*[_mp(x) + h * _mp(d) for x, d in zip(xs, dirs)]), shape)
        minus = _mp_array(f(*[_mp(x) - h * _mp(d) for x, d in zip(xs, dirs)]), shape)
        got = _mp_array(md.mpmath_function(syms + vs, jv)(*map(_mp, xs), *map(_mp, dirs)), shape)
        scale = max(mpmath.mpf(1), *(abs(g) for row in got for g in row))
        for i in range(shape[0]):
            for j in range(shape[1]):
                fd = (plus[i][j] - minus[i][j]) / (2 * h)
                assert abs(got[i][j] - fd) <= mpmath.mpf(10) ** -30 * scale, (i, j, got[i][j], fd)
