"""One canonical form (issue 8, item 2): equivalent spellings simplify to one expression and give one derivative.

Each rewrite is a named one-way rule of matderiv.simplify whose docstring states its identity; the identities
themselves are checked here in plain numpy (never matderiv against itself), and the derivatives against the
hand-derived gradient of the logistic loss, −Xᵀ(y ⊙ σ(−y ⊙ Xw)).
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import matderiv as md

S = importlib.import_module("matderiv.simplify")  # the module (md.simplify is the function)

n, m = "n", "m"
X, w, y, z = md.matrix("X", n, m), md.vector("w", m), md.vector("y", n), md.vector("z", n)


def _sig(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


# MatrixCalculus.org's spellings of the logistic loss (its own example first) and matderiv's own
LOGISTIC = [
    "sum(log(exp(-y.*(X*w)) + vector(1)))",
    "sum(log(vector(1) + exp(-y.*(X*w))))",
    "sum(log(exp(-y.*(X*w)) + 1))",
    "sum(log(1 + exp(-y.*(X*w))))",
    "sum(log(exp(-(X*w).*y) + vector(1)))",
    "sum(log(vector(1) + exp(-(y.*(X*w)))))",
    "sum(softplus(-y.*(X*w)))",
    "sum(softplus(-(X*w).*y))",
    # through log σ: −log σ(u) = log(1 + e^{−u}); d/du log σ(u) = 1 − σ(u) = σ(−u) as a factor of y ⊙ ·
    "-sum(log(sigmoid(y.*(X*w))))",
    "sum(-log(1./(1+exp(-y.*(X*w)))))",
    "sum(-log(vector(1)./(vector(1)+exp(-y.*(X*w)))))",
    # (e^v + 1)/e^v = 1 + e^{−v}, v = y ⊙ Xw
    "sum(log((exp(y.*(X*w))+1)./exp(y.*(X*w))))",
]


def _loss(Xv: np.ndarray, wv: np.ndarray, yv: np.ndarray) -> float:
    """Σ log(1 + exp(−y ⊙ Xw)), by hand."""
    return float(np.sum(np.log1p(np.exp(-yv * (Xv @ wv)))))


def _central(f, v: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """float64 central differences of f at v, entry by entry."""
    out = np.empty_like(v)
    for i in range(v.size):
        e = np.zeros_like(v)
        e.flat[i] = h
        out.flat[i] = (f(v + e) - f(v - e)) / (2 * h)
    return out


@pytest.mark.parametrize("text", LOGISTIC)
def test_logistic_loss_gradient_one_form(text: str) -> None:
    f = md.parse(text)
    g = md.grad(f, "w")
    assert str(g) == "-X.T @ (y * sigmoid(-y * (X @ w)))"
    assert md.latex(g) == r"-X^{\top} \left(y \odot \sigma\left(-y \odot \left(X w\right)\right)\right)"
    rng = np.random.default_rng(0)
    Xv, wv, yv = rng.standard_normal((6, 3)), rng.standard_normal(3), rng.choice([-1.0, 1.0], 6)
    want = -Xv.T @ (yv * _sig(-yv * (Xv @ wv)))  # hand-derived
    Xs, ws, ys = (next(s for s in f.free_symbols if s.name == k) for k in "Xwy")
    got = md.lambdify([Xs, ws, ys], g)(Xv, wv, yv)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(got, _central(lambda v: _loss(Xv, v, yv), wv), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(md.lambdify([Xs, ws, ys], f)(Xv, wv, yv), _loss(Xv, wv, yv), rtol=1e-14)


@pytest.mark.parametrize("spelling, canonical, numeric", [
    (md.exp(z) / (1 + md.exp(z)), md.sigmoid(z), lambda v: np.exp(v) / (1 + np.exp(v))),
    (md.exp(z) / (md.exp(z) + md.ones(n)), md.sigmoid(z), lambda v: np.exp(v) / (np.exp(v) + 1)),
    (md.exp(-z) / (1 + md.exp(-z)), md.sigmoid(-z), lambda v: np.exp(-v) / (1 + np.exp(-v))),
    (1 / (1 + md.exp(-z)), md.sigmoid(z), lambda v: 1 / (1 + np.exp(-v))),
    (1 / (1 + md.exp(z)), md.sigmoid(-z), lambda v: 1 / (1 + np.exp(v))),
    (md.ones(n) / (md.ones(n) + md.exp(-z)), md.sigmoid(z), lambda v: 1 / (1 + np.exp(-v))),
    (md.exp(z) / (1 + md.exp(z)) ** 2, md.sigmoid(z) * (1 - md.sigmoid(z)),
     lambda v: np.exp(v) / (1 + np.exp(v)) ** 2),
    (md.sigmoid(z) * md.sigmoid(-z), md.sigmoid(z) * (1 - md.sigmoid(z)), lambda v: _sig(v) * _sig(-v)),
    (md.exp(z) + md.ones(n), md.exp(z) + 1, lambda v: np.exp(v) + 1),
    (md.exp(z) - 2 * md.ones(n), md.exp(z) - 2, lambda v: np.exp(v) - 2),
])
def test_equivalent_spellings_simplify_alike(spelling: md.Expr, canonical: md.Expr, numeric) -> None:
    assert md.simplify(spelling) == md.simplify(canonical)
    v = np.linspace(-3, 3, 7)  # the identity itself, in plain numpy
    canon = md.simplify(canonical)
    np.testing.assert_allclose(numeric(v), md.lambdify([z], canon)(v), rtol=1e-14)


@pytest.mark.parametrize("a, b, value, gradient", [
    (md.sum(md.exp(z) / (1 + md.exp(z))), md.sum(md.sigmoid(z)), lambda v: np.sum(_sig(v)),
     lambda v: _sig(v) * (1 - _sig(v))),
    (md.sum(1 / (1 + md.exp(-z))), md.sum(md.sigmoid(z)), lambda v: np.sum(_sig(v)),
     lambda v: _sig(v) * (1 - _sig(v))),
    (md.sum(md.exp(-z) / (1 + md.exp(-z))), md.sum(md.sigmoid(-z)), lambda v: np.sum(_sig(-v)),
     lambda v: -_sig(v) * (1 - _sig(v))),
    (md.sum(md.log(1 + md.exp(z))), md.sum(md.softplus(z)), lambda v: np.sum(np.log1p(np.exp(v))), _sig),
    (md.sum(md.log(md.exp(z) + md.ones(n))), md.sum(md.softplus(z)), lambda v: np.sum(np.log1p(np.exp(v))), _sig),
    (md.sum(md.log((md.exp(z) + 1) / md.exp(z))), md.sum(md.log(1 + md.exp(-z))),
     lambda v: np.sum(np.log1p(np.exp(-v))), lambda v: -_sig(-v)),
])
def test_equivalent_spellings_same_derivative(a: md.Expr, b: md.Expr, value, gradient) -> None:
    """One derivative from both spellings, and it is the hand-derived one (σ′ = σ(1 − σ), softplus′ = σ), which
    float64 central differences of the hand-written numpy value confirm."""
    ga, gb = md.grad(a, z), md.grad(b, z)
    assert ga == gb
    v = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(gradient(v), _central(value, v), rtol=1e-7, atol=1e-10)  # the reference itself
    for f, g in ((a, ga), (b, gb)):
        np.testing.assert_allclose(md.lambdify([z], g)(v), gradient(v), rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(md.lambdify([z], f)(v), value(v), rtol=1e-14)


def test_cross_entropy_gradient_cancels() -> None:
    """−Σ t log σ(z) + (1 − t) log(1 − σ(z)): the quotients cancel against σ′ = σ(1 − σ) (the sum is distributed
    only because they do), and 1 − σ(−z) is σ(z): both spellings give one gradient, equal to σ(z) − t."""
    t = md.vector("t", n)
    spellings = [-md.sum(t * md.log(md.sigmoid(z)) + (1 - t) * md.log(1 - md.sigmoid(z))),
                 -md.sum(t * md.log(md.sigmoid(z)) + (1 - t) * md.log(md.sigmoid(-z)))]
    grads = [md.grad(f, z) for f in spellings]
    assert grads[0] == grads[1]
    assert "/" not in str(grads[0])
    zv, tv = np.linspace(-4, 4, 9), np.arange(9) % 2.0
    np.testing.assert_allclose(md.lambdify([z, t], grads[0])(zv, tv), _sig(zv) - tv, rtol=1e-13, atol=1e-15)


def test_sigmoid_of_a_negation() -> None:
    """1 − σ(−z) = σ(z); 1 − σ(z) alone stays (d log σ(z)/dz), and so does σ′ = σ(z) ⊙ (1 − σ(z)); as a factor
    without σ(z), 1 − σ(z) is σ(−z)."""
    v = np.linspace(-4, 4, 9)
    assert md.simplify(1 - md.sigmoid(-z)) == md.sigmoid(z)
    one_minus = md.simplify(1 - md.sigmoid(z))
    assert one_minus.op == "add" and str(one_minus) == "1 - sigmoid(z)"
    np.testing.assert_allclose(md.lambdify([z], one_minus)(v), 1 - _sig(v), rtol=1e-14)
    g = md.grad(md.sum(md.sigmoid(-z)), z)  # d/dz σ(−z) = −σ′(−z) = −σ(z)(1 − σ(z))
    assert str(g) == "-sigmoid(z) * (1 - sigmoid(z))"
    np.testing.assert_allclose(md.lambdify([z], g)(v), -_sig(v) * (1 - _sig(v)), rtol=1e-13)
    np.testing.assert_allclose(md.lambdify([z], g)(v), _central(lambda u: np.sum(_sig(-u)), v), rtol=1e-7)
    t = md.vector("t", n)
    factor = md.simplify(t * (1 - md.sigmoid(z)))
    assert str(factor) == "t * sigmoid(-z)"
    assert str(md.simplify(md.sigmoid(z) * (1 - md.sigmoid(z)))) == "sigmoid(z) * (1 - sigmoid(z))"
    tv = np.arange(9.0)
    np.testing.assert_allclose(md.lambdify([z, t], factor)(v, tv), tv * (1 - _sig(v)), rtol=1e-13)


def test_ones_stay_where_nothing_has_the_full_shape() -> None:
    """𝟏 + 𝟏 = 2 𝟏 (no term has the full shape to broadcast a number over), sum 𝟏ₙ = n."""
    two = md.simplify(md.ones(n) + md.ones(n))
    assert two.op == "mul" and str(two) == "2 * ones(n)" and two.shape == md.ones(n).shape
    np.testing.assert_array_equal(md.lambdify([], two)(n=3), [2.0, 2.0, 2.0])
    count = md.simplify(md.sum(md.ones(n)))
    assert str(count) == "n" and count.is_scalar
    assert md.lambdify([], count)(n=5) == 5.0


def test_negation() -> None:
    a, b = md.vector("a", n), md.vector("b", n)
    assert S.is_negation(md.simplify(-y * (X @ w)), md.simplify(y * (X @ w)))
    assert S.is_negation(md.simplify(a - b), md.simplify(b - a))
    assert S.is_negation(md.simplify(-(a - b)), md.simplify(a - b))
    assert not S.is_negation(md.simplify(a - b), md.simplify(a + b))


def test_rules_are_named_with_identities() -> None:
    for rule in (S.add_ones_as_number, S.add_one_minus_sigmoid, S.power_logistic, S.mul_exp_sigmoid,
                 S.mul_sigmoid_pair, S.mul_one_minus_sigmoid, S.mul_one_plus_exp_over_exp,
                 S.mul_distribute_cancelling):
        assert rule.__doc__ and "=" in rule.__doc__
        assert any(rule in rules for rules in S.IDENTITIES.values())
