"""Reductions along an axis with numpy's meaning (results stay 2-D), the row-wise softmax of attention and of
multinomial regression, stable at logits of ±1000 in value and gradient (checked against mpmath at 50 digits)."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

import matderiv as md

n, m = 5, 4
X = md.matrix("X", n, m)
rng = np.random.default_rng(0)
XV = rng.standard_normal((n, m))


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_sum_and_mean_along_an_axis(axis: int | None) -> None:
    s, mu = md.sum(X, axis=axis), md.mean(X, axis=axis)
    want_shape = (1, 1) if axis is None else (1, m) if axis == 0 else (n, 1)
    assert tuple(int(d) for d in s.shape) == want_shape == tuple(int(d) for d in mu.shape)
    fs, fm = md.lambdify([X], [s, mu])(XV)
    np.testing.assert_allclose(np.ravel(fs), np.ravel(np.sum(XV, axis=axis)), rtol=1e-14)
    np.testing.assert_allclose(np.ravel(fm), np.ravel(np.mean(XV, axis=axis)), rtol=1e-14)


def test_sums_along_an_axis_are_products_with_ones_and_print_as_sums() -> None:
    assert md.sum(X, 0) == md.ones(1, 5) @ X and md.sum(X, 1) == X @ md.ones(4)  # 𝟏ᵀX and X𝟏 in the IR
    assert str(md.sum(X, 0)) == "sum(X, axis=0)" and str(md.sum(X, 1)) == "sum(X, axis=1)"
    assert str(md.sum(X.T, 1)) == "sum(X, axis=0).T" and str(md.ones(1, 5) @ X @ md.ones(4)) == "sum(X)"
    assert md.latex(md.sum(X, 0)) == r"\mathbf{1}^{\top} X" and md.latex(md.sum(X, 1)) == r"X \mathbf{1}"
    Xs = md.matrix("X", "n", "m")
    assert str(md.mean(Xs)) == "sum(X) / (m*n)"
    assert md.parse("sum(X, 0)", X="matrix(n, m)") == md.sum(Xs, 0)
    assert md.parse("mean(X, 1)", X="matrix(n, m)") == md.mean(Xs, 1)


def _softmax(a: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [0, 1])
def test_logsumexp_and_softmax_along_an_axis(axis: int) -> None:
    lse, sm = md.logsumexp(X, axis=axis), md.softmax(X, axis=axis)
    f_lse, f_sm = md.lambdify([X], [lse, sm])(XV)
    np.testing.assert_allclose(f_lse, np.log(np.exp(XV).sum(axis=axis)), rtol=1e-14)
    np.testing.assert_allclose(f_sm, _softmax(XV, axis), rtol=1e-14)
    # ∂ Σ logsumexp(X, axis) / ∂X = softmax(X, axis)
    np.testing.assert_allclose(md.lambdify([X], md.grad(md.sum(lse), X))(XV), _softmax(XV, axis), rtol=1e-13)
    assert md.check(md.sum(lse), X).ok
    G = md.matrix("G", n, m)
    assert md.check(sm, X, seed=G).ok


def test_a_vectors_one_axis_is_its_entries_as_in_numpy() -> None:
    """Vectors are 1-D in the generated code: axis 0 or -1 is all entries (torch's dim=-1), axis 1 is refused."""
    v = md.vector("v", n)
    vv = rng.standard_normal(n)
    for axis in (0, -1, None):
        assert md.logsumexp(v, axis=axis) == md.logsumexp(v) and md.softmax(v, axis=axis) == md.softmax(v)
        assert md.sum(v, axis=axis) == md.sum(v)
    np.testing.assert_allclose(md.lambdify([v], md.softmax(v, axis=-1))(vv), np.exp(vv) / np.exp(vv).sum())
    for f in (md.sum, md.mean, md.logsumexp, md.softmax):
        with pytest.raises(md.ShapeError, match="one axis"):
            f(v, axis=1)
    np.testing.assert_allclose(md.lambdify([X], md.softmax(X, axis=-1))(XV), _softmax(XV, 1), rtol=1e-14)
    with pytest.raises(md.ShapeError, match="give the axis"):
        md.softmax(X)
    with pytest.raises(md.ArgumentError, match="axis"):
        md.sum(X, axis=2)
    assert md.simplify(md.sum(md.ones("k", "j"))) == md.dim(md.dim("k").params[0] * md.dim("j").params[0])  # k j


def test_text_language_and_latex() -> None:
    Xs = md.matrix("X", "n", "m")
    for text, e in [("softmax(X, 1)", md.softmax(Xs, 1)), ("logsumexp(X, 0)", md.logsumexp(Xs, 0))]:
        assert md.parse(text, X="matrix(n, m)") == e
        assert md.parse(md.to_text(e)) == e
    assert md.latex(md.softmax(Xs, 1)) == r"\operatorname{softmax}_{\text{rows}}\left(X\right)"
    assert str(md.softmax(Xs, 1)) == "softmax(X, axis=1)"


# ---- stability at logits of ±1000 -----------------------------------------------------------------------------
N, D, K = 6, 3, 4
A, W, Y = md.matrix("A", N, D), md.matrix("W", D, K), md.matrix("Y", N, K)
LOSS = -md.sum(Y * md.log(md.softmax(A @ W, axis=1)))  # multinomial (softmax) regression


def _big_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = np.random.default_rng(3)
    a = r.standard_normal((N, D))
    w = 300 * r.standard_normal((D, K))  # logits of order ±1000
    y = np.eye(K)[r.integers(0, K, N)]
    return a, w, y


def _mp_loss(a: np.ndarray, w: np.ndarray, y: np.ndarray) -> mpmath.mpf:
    z = mpmath.matrix(a.tolist()) * mpmath.matrix(w.tolist())
    total = mpmath.mpf(0)
    for i in range(N):
        row = [z[i, j] for j in range(K)]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(t) for t in row))
        total -= mpmath.fsum(y[i, j] * (row[j] - lse) for j in range(K))
    return total


def test_multinomial_loss_and_gradient_are_finite_and_right_at_large_logits() -> None:
    a, w, y = _big_problem()
    assert np.abs(a @ w).max() > 500
    # as written: the generated code computes log softmax(AW, 1) as AW − logsumexp(AW, 1)𝟏ᵀ (the block's identity)
    f, g = md.lambdify([A, W, Y], [LOSS, md.grad(LOSS, W)])(a, w, y)
    with mpmath.workdps(50):
        want = _mp_loss(a, w, y)
        assert f == pytest.approx(float(want), rel=1e-12)
        # ∂/∂W by mpmath central differences along random directions at 50 digits
        r = np.random.default_rng(4)
        for _ in range(3):
            d = r.standard_normal((D, K))
            h = mpmath.mpf(10) ** -20
            wp = (mpmath.matrix(w.tolist()) + h * mpmath.matrix(d.tolist())).tolist()
            wm = (mpmath.matrix(w.tolist()) - h * mpmath.matrix(d.tolist())).tolist()
            fd = (_mp_loss(a, np.array(wp, dtype=object), y) - _mp_loss(a, np.array(wm, dtype=object), y)) / (2 * h)
            assert float(np.sum(g * d)) == pytest.approx(float(fd), rel=1e-9, abs=1e-9)
    assert np.all(np.isfinite(g))


def test_attention_vjp_at_large_logits_is_finite_and_certified() -> None:
    Q, Kk, V, G = md.matrix("Q", 4, 3), md.matrix("K", 5, 3), md.matrix("V", 5, 2), md.matrix("G", 4, 2)
    F = md.softmax(Q @ Kk.T, axis=1) @ V
    r = np.random.default_rng(5)
    q, k, v, g = 40 * r.standard_normal((4, 3)), 40 * r.standard_normal((5, 3)), r.standard_normal((5, 2)), \
        r.standard_normal((4, 2))
    assert np.abs(q @ k.T).max() > 500
    vals = md.lambdify([Q, Kk, V, G], [F, *md.vjp(F, [Q, Kk, V], G)])(q, k, v, g)
    assert all(np.all(np.isfinite(x)) for x in vals)
    np.testing.assert_allclose(vals[0], _softmax(q @ k.T, 1) @ v, rtol=1e-12, atol=1e-12)
    assert md.check(F, [Q, Kk, V], seed=G).ok


@pytest.mark.parametrize("op", ["softmax", "logsumexp", "sum", "mean"])
@pytest.mark.parametrize("k", [0, -1])
def test_the_language_builds_what_the_constructors_build(op: str, k: int) -> None:
    """Text and Python agree on degenerate axes too (a row or a column), and so do their values."""
    x = md.vector("x", 3)
    f = getattr(md, op)
    for arg, text in ((x, "x"), (x.T, "x'")):
        e = md.parse(f"{op}({text}, {k})", x="vector(3)")
        assert e == f(arg, k)
        xv = np.array([0.5, -1.0, 2.0])
        got = np.ravel(md.lambdify([x], e)(xv))
        want = {"softmax": np.exp(xv) / np.exp(xv).sum(), "logsumexp": [np.log(np.exp(xv).sum())],
                "sum": [xv.sum()], "mean": [xv.mean()]}[op]
        np.testing.assert_allclose(got, want, rtol=1e-14)
