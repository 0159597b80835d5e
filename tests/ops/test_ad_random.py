"""Reverse mode on random composite expressions: every gradient md.grad derives (and simplifies) agrees with
float64 central differences of the expression itself.

Both sides are evaluated by ``reference`` (tests/conftest.py), a direct op-by-op numpy evaluation of the IR
written in the tests, so neither the derivation nor the code generator checks itself. This is the guard against
a simplifier rule that is wrong in some combination no hand-written identity covers.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import matderiv as md
from conftest import reference
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "codegen"))  # the random expressions of the codegen tests
from test_codegen import M, N, V, RandomExpr  # noqa: E402

DIMS = {"n": N, "m": M}


def _value(e: md.Expr, env: dict[str, np.ndarray]) -> float:
    return float(reference(e, env, DIMS).item())


@pytest.mark.parametrize("seed", range(150))
def test_random_gradient_matches_central_differences(seed: int) -> None:
    f = RandomExpr(7000 + seed).gen((1, 1), 3)
    ws = sorted(f.free_symbols, key=lambda x: x.name)
    if not ws:
        pytest.skip("constant expression")
    grads = md.grad(f, ws)
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        for w, g in zip(ws, grads):
            shape = reference(w, V, DIMS).shape
            d = rng.standard_normal(shape)
            derived = float(np.sum(reference(g, V, DIMS) * d))
            fd = {}
            for h in (1e-5, 5e-6):  # Richardson extrapolation of two central differences: error O(h⁴)
                hi = {**V, w.name: reference(w, V, DIMS) + h * d}
                lo = {**V, w.name: reference(w, V, DIMS) - h * d}
                fd[h] = (_value(f, hi) - _value(f, lo)) / (2 * h)
            est = (4 * fd[5e-6] - fd[1e-5]) / 3
            if not np.isfinite(est) or abs(fd[1e-5] - fd[5e-6]) > 1e-3 * (1 + abs(est)):
                continue  # a kink (relu, abs) between the sample points: central differences say nothing there
            scale = 1 + abs(est) + float(np.abs(reference(g, V, DIMS)).sum())
            assert abs(derived - est) <= 1e-6 * scale, f"d/d{w.name} of {f}: derived {derived}, fd {est}\n{g}"


@pytest.mark.slow
def test_deep_composition_does_not_hit_the_recursion_limit() -> None:
    # sin applied 1500 times: the sweep, the simplifier and every printer walk the DAG without deep recursion
    x = md.vector("x", 3)
    h = x
    for _ in range(1500):
        h = md.sin(h)
    g = md.grad(md.sum(h), x)
    assert len(str(g)) > 1500 and len(md.latex(g)) > 1500 and len(md.to_text(g)) > 1500
    x0 = np.array([0.3, -0.7, 1.1])
    want, v = np.ones(3), x0.copy()  # chain rule by hand: Π cos(sinᵏ(x))
    for _ in range(1500):
        want, v = want * np.cos(v), np.sin(v)
    np.testing.assert_allclose(md.lambdify([x], g)(x0), want, rtol=1e-9)


def test_the_simplifier_memo_can_be_cleared_between_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    # a tiny memo limit: clearing must never happen in the middle of a walk (it once raised KeyError)
    simp = importlib.import_module("matderiv.simplify")  # the module (md.simplify is the function)
    exprs = [RandomExpr(9000 + k).gen((1, 1), 3) for k in range(30)]
    wanted = [md.simplify(e) for e in exprs]
    monkeypatch.setattr(simp, "MEMO_LIMIT", 5)
    for e, w in zip(exprs, wanted):
        assert md.simplify(e) == w


def test_a_number_base_with_a_scalar_exponent() -> None:
    t = md.scalar("t")
    g = md.grad(2 ** t, t)  # d/dt 2ᵗ = 2ᵗ log 2
    assert abs(md.lambdify([t], g)(0.7) - 2 ** 0.7 * np.log(2)) < 1e-14
