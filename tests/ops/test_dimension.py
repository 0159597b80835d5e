"""A dimension is usable as a number: the mean squared error ‖Xw − y‖²/n derives, prints as n and evaluates with n
read from X's shape (issue 6)."""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md

X, w, y = md.matrix("X", "n", "d"), md.vector("w", "d"), md.vector("y", "n")
MSE = md.norm2(X @ w - y) ** 2 / X.shape[0]


def test_mse_prints_with_n() -> None:
    assert str(MSE) == "norm2(X @ w - y)**2 / n"
    assert md.latex(MSE) == r"\frac{\left\|X w - y\right\|^{2}}{n}"
    assert str(md.grad(MSE, w)) == "2 * X.T @ (X @ w - y) / n"


@pytest.mark.parametrize("n", [1, 5, 40])
def test_mse_and_its_gradient_evaluate_with_n_from_x(n: int) -> None:
    rng = np.random.default_rng(n)
    Xv, wv, yv = rng.standard_normal((n, 3)), rng.standard_normal(3), rng.standard_normal(n)
    f, g = md.lambdify([X, w, y], [MSE, md.grad(MSE, w)])(Xv, wv, yv)
    assert f == pytest.approx(np.mean((Xv @ wv - yv) ** 2), rel=1e-14)
    np.testing.assert_allclose(g, 2 * Xv.T @ (Xv @ wv - yv) / n, rtol=1e-13)  # ∇ of the mean of squares


def test_certified_and_in_mpmath() -> None:
    assert md.check(MSE, w, at={"n": 6}).ok
    assert md.check(MSE, X).ok


def test_dim_constructor_and_products_of_dimensions() -> None:
    A = md.matrix("A", "n", "m")
    mean = md.sum(A) / (md.dim("n") * md.dim("m"))
    Av = np.arange(12.0).reshape(3, 4)
    assert md.lambdify([A], mean)(Av) == pytest.approx(Av.mean())
    assert md.dim(3) == md.const(3)
    np.testing.assert_allclose(md.lambdify([A], md.grad(mean, A))(Av), np.full((3, 4), 1 / 12))
    assert md.to_sympy(md.dim("n")).name == "n"


def test_text_language_writes_a_dimension_as_dim() -> None:
    assert md.to_text(MSE) == "norm2(X*w - y)^2/dim(n) where X: matrix(n, d), w: vector(d), y: vector(n)"
    for e in (MSE, md.grad(MSE, w), md.mean(md.matrix("A", "n", "m")), md.mean(X, axis=0)):
        assert md.parse(md.to_text(e)) == e
    assert md.parse("x'*x/dim(n) where x: vector(n)") == md.vector("x", "n").T @ md.vector("x", "n") / md.dim("n")
