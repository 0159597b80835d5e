"""The seed tutorial's examples (examples/seed_examples.py): textbook forms, the tutorial's numbers, hand-written
numpy backprop, float64 finite differences and the mpmath certificate of ``md.check``."""
from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import matderiv as md
from conftest import assert_canonical, assert_vjp, ev

_PATH = pathlib.Path(__file__).resolve().parents[1] / "examples" / "seed_examples.py"
_spec = importlib.util.spec_from_file_location("seed_examples", _PATH)
ex = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(ex)  # type: ignore[union-attr]


# ---- 1. f = aᵀXb -------------------------------------------------------------------------------------------------
def test_scalar_by_matrix_forms() -> None:
    f, (a, X, b), _ = ex.scalar_by_matrix()
    grads = md.grad(f, [a, X, b])
    assert [str(g) for g in grads] == ["X @ b", "a @ b.T", "X.T @ a"]
    assert [md.latex(g) for g in grads] == ["X b", r"a b^{\top}", r"X^{\top} a"]
    assert md.latex_equation(f, X) == r"\frac{\partial}{\partial X} \left( a^{\top} X b \right) = a b^{\top}"


def test_scalar_by_matrix_numbers() -> None:
    f, syms, values = ex.scalar_by_matrix()
    value, da, dX, db = md.lambdify(syms, [f, *md.grad(f, syms)])(*values.values())
    assert value == 517.0  # 1·20 + 2·56 + 3·83 + 4·34
    # X.grad printed by the tutorial (torch), = a bᵀ
    np.testing.assert_array_equal(dX, [[2, 3, 4], [4, 6, 8], [6, 9, 12], [8, 12, 16]])
    np.testing.assert_array_equal(da, [20, 56, 83, 34])  # X b
    np.testing.assert_array_equal(db, [55, 57, 59])  # Xᵀ a
    assert np.shape(da) == (4,) and np.shape(dX) == (4, 3) and np.shape(db) == (3,)


@pytest.mark.parametrize("i", [0, 1, 2], ids=["a", "X", "b"])
def test_scalar_by_matrix_certified(i: int) -> None:
    f, syms, values = ex.scalar_by_matrix()
    report = md.check(f, syms[i], at=values)
    assert report.ok, str(report)


# ---- 2. F = AX with the seed ones_like(F) --------------------------------------------------------------------------
def test_matrix_by_matrix() -> None:
    F, X, seed, values = ex.matrix_by_matrix()
    g = md.vjp(F, X, seed)
    assert str(g) == "A.T @ ones(n, m)"
    out = md.lambdify(list(values), g)(*values.values())
    np.testing.assert_array_equal(out, [[4, 4, 4], [6, 6, 6]])  # X.grad printed by the tutorial
    assert md.check(F, X, at=values, seed=seed).ok


def test_matrix_by_matrix_needs_a_seed() -> None:
    F, X, _, _ = ex.matrix_by_matrix()
    with pytest.raises(md.DerivativeError, match=r"md\.vjp\(F, 'X', md\.ones_like\(F\)\)"):
        md.grad(F, X)


# ---- 3. the linear layer ------------------------------------------------------------------------------------------
def test_linear_layer() -> None:
    Y, (X, W, b), G = ex.linear_layer()
    assert Y.shape == (10, 3)
    vjps = md.vjp(Y, [X, W, b], G)
    assert [str(v) for v in vjps] == ["G @ W", "G.T @ X", "sum(G, axis=0).T"]
    rng = np.random.default_rng(3)
    Xv, Wv, bv, Gv = (rng.standard_normal(s) for s in [(10, 5), (3, 5), (3, 1), (10, 3)])
    dX, dW, db = ev(list(vjps), {X: Xv, W: Wv, b: bv, G: Gv})
    # hand-written backprop of Y = X Wᵀ + 𝟏bᵀ
    np.testing.assert_allclose(dX, Gv @ Wv, rtol=1e-13)
    np.testing.assert_allclose(dW, Gv.T @ Xv, rtol=1e-13)
    np.testing.assert_allclose(db, Gv.sum(axis=0, keepdims=True).T, rtol=1e-13)
    assert_vjp(lambda X, W, b: X @ W.T + b.T, [Xv, Wv, bv], {0: dX, 1: dW, 2: db}, seed=Gv, rng=rng)


@pytest.mark.parametrize("i", [0, 1, 2], ids=["X", "W", "b"])
def test_linear_layer_certified(i: int) -> None:
    Y, syms, G = ex.linear_layer()
    report = md.check(Y, syms[i], seed=G)
    assert report.ok, str(report)


# ---- 4. the network -------------------------------------------------------------------------------------------------
def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def mlp_forward(X, W1, b1, W2, b2, W3, b3):  # type: ignore[no-untyped-def]
    """Hand-written numpy forward pass: Linear–ReLU–Linear–ReLU–Linear–Sigmoid."""
    Z1 = X @ W1.T + b1.T
    Z2 = _relu(Z1) @ W2.T + b2.T
    Z3 = _relu(Z2) @ W3.T + b3.T
    return 1 / (1 + np.exp(-Z3))


def mlp_backprop(G, X, W1, b1, W2, b2, W3, b3):  # type: ignore[no-untyped-def]
    """Hand-written backprop of ⟨G, mlp(X)⟩: cotangents of X, W1, b1, W2, b2, W3, b3."""
    Z1 = X @ W1.T + b1.T
    H1 = _relu(Z1)
    Z2 = H1 @ W2.T + b2.T
    H2 = _relu(Z2)
    Y = 1 / (1 + np.exp(-(H2 @ W3.T + b3.T)))
    dZ3 = G * Y * (1 - Y)
    dZ2 = (dZ3 @ W3) * (Z2 > 0)
    dZ1 = (dZ2 @ W2) * (Z1 > 0)
    col = lambda d: d.sum(axis=0, keepdims=True).T  # noqa: E731
    return dZ1 @ W1, dZ1.T @ X, col(dZ1), dZ2.T @ H1, col(dZ2), dZ3.T @ H2, col(dZ3)


def _mlp_values(rng: np.random.Generator) -> list[np.ndarray]:
    """A 10×15 input and torch-style weights U(−1/√fan_in, 1/√fan_in)."""
    vals = [rng.standard_normal((10, 15))]
    for n_in, n_out in [(15, 30), (30, 15), (15, 1)]:
        bound = 1 / np.sqrt(n_in)
        vals += [rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, (n_out, 1))]
    return vals


def test_mlp_vjps_match_backprop_and_finite_differences() -> None:
    Y, syms, G = ex.mlp()
    assert Y.shape == (10, 1) and [s.shape for s in syms[1:]] == [(30, 15), (30, 1), (15, 30), (15, 1), (1, 15),
                                                                   (1, 1)]
    vjps = md.vjp(Y, syms, G)
    for v in vjps:
        assert_canonical(v)
    rng = np.random.default_rng(11)
    xs = _mlp_values(rng)
    Gv = rng.standard_normal((10, 1))
    derived = ev(list(vjps), dict(zip(syms, xs)) | {G: Gv})
    for d, ref in zip(derived, mlp_backprop(Gv, *xs)):
        np.testing.assert_allclose(d, ref, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(ev(Y, dict(zip(syms, xs))), mlp_forward(*xs), rtol=1e-13)
    assert_vjp(mlp_forward, xs, dict(enumerate(derived)), seed=Gv, rng=rng, ndirs=2)


@pytest.mark.parametrize("i", range(7), ids=["X", "W1", "b1", "W2", "b2", "W3", "b3"])
def test_mlp_certified(i: int) -> None:
    Y, syms, G = ex.mlp()
    report = md.check(Y, syms[i], seed=G)
    assert report.ok, str(report)


def test_example_script_runs(capsys: pytest.CaptureFixture[str]) -> None:
    ex.main()
    out = capsys.readouterr().out
    assert "dX = a @ b.T" in out and "X.grad =\n[[4. 4. 4.]\n [6. 6. 6.]]" in out
    assert "FAILED" not in out and out.count("certified") == 3 + 1 + 3 + 7
