"""md.check(f, x, order=2) and md.check_jacobian: mpmath differences of the first derivative and second
differences of f itself, ≥ dps − 15 digits for the right formula and a FAILED report for a wrong one."""
from __future__ import annotations

import pytest

import matderiv as md
from matderiv.ad import grad
from matderiv.check.second import _certify

x, A = md.vector("x", "n"), md.matrix("A", "n", "n")
X, w, y = md.matrix("X", "N", "d"), md.vector("w", "d"), md.vector("y", "N")
Y, C, z = md.matrix("Y", "n", "n"), md.matrix("C", "n", "k"), md.vector("z", "n")

HESSIANS = {
    "quadratic form": (x.T @ A @ x, x),
    "least squares": (md.norm2(C.T @ x - md.vector("b", "k")) ** 2, x),
    "logistic": (md.sum(md.log(1 + md.exp(-y * (X @ w)))), w),
    "logsumexp": (md.logsumexp(x), x),
    "logdet weighted Gram": (md.logdet(C.T @ md.diag(z) @ C), z),
    "logdet, matrix": (md.logdet(Y), Y),
    "tr Y^3, matrix": (md.trace(Y @ Y @ Y), Y),
}


@pytest.mark.parametrize("name", HESSIANS)
def test_hessians_certify(name: str) -> None:
    f, v = HESSIANS[name]
    r = md.check(f, v, order=2, dps=40)
    assert r.ok, str(r)
    assert r.kind == "hessian" and r.formula == md.hessian(f, v)
    assert r.digits_first >= 25 and r.digits_second is not None and r.digits_second >= 25
    assert r.digits_numpy is not None and r.digits_numpy >= 8
    assert "certified" in str(r) and "second differences of f" in r.summary()


JACOBIANS = {
    "Ax": (C.T @ x, x), "softmax": (md.softmax(x), x), "x xᵀx": (x * (x.T @ x), x),
    "sigmoid(Wx)": (md.sigmoid(md.matrix("W", "m", "n") @ x), x), "inv": (md.inv(Y), Y), "YY": (Y @ Y, Y),
    "Yᵀ": (Y.T, Y), "scalar": (x.T @ A @ x, x), "A Y C": (A @ Y @ C, Y),
}


@pytest.mark.parametrize("name", JACOBIANS)
def test_jacobians_certify(name: str) -> None:
    F, v = JACOBIANS[name]
    r = md.check_jacobian(F, v, dps=30)
    assert r.ok, str(r)
    assert r.digits_second is None and r.digits_first >= 15


def test_a_wrong_hessian_fails() -> None:
    """The logistic Hessian without y⊙y (right only for ±1 labels) is caught at generic labels."""
    f = md.sum(md.log(1 + md.exp(-y * (X @ w))))
    z_ = y * (X @ w)
    wrong = md.simplify(X.T @ md.diag(md.sigmoid(z_) * md.sigmoid(-z_)) @ X)
    r = _certify("hessian", f, w, wrong, grad(f, w), None, 30, 0, 3)
    assert not r.ok and r.digits_first < 3 and r.digits_second is not None and r.digits_second < 3
    assert "FAILED" in str(r)


def test_a_wrong_jacobian_fails() -> None:
    wrong = md.kron(Y, md.eye("n")) + md.kron(md.eye("n"), Y)  # Y, not Yᵀ, in the first term
    r = _certify("jacobian", Y @ Y, Y, wrong, Y @ Y, None, 30, 0, 3)
    assert not r.ok


def test_order_errors() -> None:
    with pytest.raises(md.DerivativeError, match="check_jacobian"):
        md.check(A @ x, x, order=2)
    with pytest.raises(md.ArgumentError, match="order"):
        md.check(x.T @ x, x, order=3)
    with pytest.raises(md.ArgumentError, match="one variable"):
        md.check(x.T @ A @ x, [x, A], order=2)


def test_given_point() -> None:
    r = md.check(x.T @ A @ x, x, order=2, dps=30, at={"x": [1.0, 2.0], "A": [[1.0, 2.0], [3.0, 4.0]]})
    assert r.ok and r.dims == {"n": 2}


def test_hvp_certifies_and_a_wrong_one_fails() -> None:
    """The tanh MLP's HVP by reverse over reverse, ∂⟨∇f(W1), V⟩/∂W1, against differences of ∇f and of f."""
    W1, Xm, w2, ym = md.matrix("W1", "h", "k"), md.matrix("Xm", "n", "k"), md.vector("w2", "h"), md.vector("ym", "n")
    V = md.matrix("V", "h", "k")
    f = md.norm2(md.tanh(Xm @ W1.T) @ w2 - ym) ** 2
    hv = md.grad(md.sum(md.grad(f, W1) * V), W1)
    r = md.check_hvp(f, W1, hv, V, dps=30)
    assert r.ok and r.kind == "hvp" and r.digits_second is not None and r.digits_second >= 15, str(r)
    assert not md.check_hvp(f, W1, hv * (1 + 1e-7), "V", dps=30).ok


def test_jvp_certifies_and_a_wrong_one_fails() -> None:
    D = md.matrix("D", "n", "n")
    assert md.check_jvp(md.inv(Y), Y, -md.inv(Y) @ D @ md.inv(Y), D, dps=30).ok
    assert not md.check_jvp(md.inv(Y), Y, -md.inv(Y) @ D @ md.inv(Y).T, D, dps=30).ok
    with pytest.raises(md.ArgumentError, match="direction"):
        md.check_jvp(md.inv(Y), Y, -md.inv(Y) @ D @ md.inv(Y), "Q")


s_, a_, b_ = md.scalar("s"), md.vector("a", "n"), md.vector("b", "m")
Xr = md.matrix("X", "n", "m")
MORE_HESSIANS = {
    "cubic scalar": (s_ ** 3, s_), "norm": (md.norm2(x), x), "sum exp, matrix": (md.sum(md.exp(Xr)), Xr),
    "logdet XᵀX, rectangular": (md.logdet(Xr.T @ Xr), Xr), "tr inv": (md.trace(md.inv(Y)), Y),
    "det": (md.det(Y), Y), "linear (zero Hessian)": (a_.T @ Xr @ b_, Xr),
    "tanh MLP, weight matrix": (md.norm2(md.tanh(Xr @ md.matrix("W1", "h", "m").T) @ md.vector("w2", "h") - a_) ** 2,
                                md.matrix("W1", "h", "m")),
    "multinomial logistic": (md.sum(md.logsumexp(Xr @ md.matrix("W", "h", "m").T, axis=1))
                             - md.trace(md.matrix("T", "n", "h").T @ Xr @ md.matrix("W", "h", "m").T),
                             md.matrix("W", "h", "m")),
    "Gaussian log-likelihood in S": (md.logdet(Y) + a_.T @ md.inv(Y) @ a_, Y),
    "Rayleigh quotient": ((x.T @ A @ x) / (x.T @ x), x),
}
MORE_JACOBIANS = {
    "of a scalar variable": (md.exp(s_) * Xr, s_), "row": (md.exp(x).T, x),
    "softmax rows": (md.softmax(Xr, axis=1), Xr), "solve": (md.solve(Y, Xr), Xr), "X ⊙ X": (Xr * Xr, Xr),
}


@pytest.mark.parametrize("name", MORE_HESSIANS)
def test_more_hessians_certify(name: str) -> None:
    f, v = MORE_HESSIANS[name]
    r = md.check(f, v, order=2, dps=30)
    assert r.ok, str(r)


@pytest.mark.parametrize("name", MORE_JACOBIANS)
def test_more_jacobians_certify(name: str) -> None:
    F, v = MORE_JACOBIANS[name]
    r = md.check_jacobian(F, v, dps=30)
    assert r.ok, str(r)


Sy, Vs, Am = md.symmetric("S", 3), md.symmetric("V", 3), md.matrix("A", 3, 3)


def test_symmetric_hvp_certifies_and_a_wrong_one_fails() -> None:
    """For symmetric S the points and directions are symmetric. tr(SAS) = tr(AS²): ∇ = sym(AᵀS + SAᵀ), so the HVP
    along a symmetric V is ½(AᵀV + VAᵀ + VA + AV) (hand-derived); AV + VA has the same ⟨V, ·⟩ (second differences
    pass) but is not sym of anything unless A = Aᵀ: the differences of ∇f catch it. log det S: ∇ = S⁻¹, the HVP
    −S⁻¹VS⁻¹ (C 59)."""
    f = md.trace(Sy @ Am @ Sy)
    assert md.check_hvp(f, Sy, (Am.T @ Vs + Vs @ Am.T + Vs @ Am + Am @ Vs) / 2, Vs, dps=30).ok
    assert md.check_hvp(f, Sy, md.hvp(f, Sy, Vs), Vs, dps=30).ok
    wrong = md.check_hvp(f, Sy, Am @ Vs + Vs @ Am, Vs, dps=30)
    assert not wrong.ok and wrong.digits_first < 3 and wrong.digits_second is not None and wrong.digits_second > 25
    g = md.logdet(Sy)
    assert md.check_hvp(g, Sy, -md.inv(Sy) @ Vs @ md.inv(Sy), Vs, dps=30).ok
    assert md.check_hvp(g, Sy, md.hvp(g, Sy, Vs), Vs, dps=30).ok
    assert not md.check_hvp(g, Sy, -md.inv(Sy) @ Vs @ Vs, Vs, dps=30).ok


def test_symmetric_jvp_certifies_and_a_wrong_one_fails() -> None:
    """d tr(SA)[V] = tr(VA) = tr(VAᵀ) for symmetric V (tr M = tr Mᵀ); tr(VA²) is wrong."""
    F = md.trace(Sy @ Am)
    assert md.check_jvp(F, Sy, md.trace(Vs @ Am.T), Vs, dps=30).ok
    assert md.check_jvp(F, Sy, md.trace(Vs @ Am), Vs, dps=30).ok
    assert not md.check_jvp(F, Sy, md.trace(Vs @ Am @ Am), Vs, dps=30).ok
    assert md.check_jvp(md.inv(Sy), Sy, -md.inv(Sy) @ Vs @ md.inv(Sy), Vs, dps=30).ok


def test_order_2_certifies_the_given_hessian() -> None:
    """grad= is the candidate Hessian: xᵀAx → A + Aᵀ (C 81) certifies, 2A (right only for symmetric A) fails;
    log det Y → −(Y⁻¹ ⊗ Y⁻ᵀ)K (d Y⁻ᵀ = −Y⁻ᵀ dYᵀ Y⁻ᵀ, vec(ABC) = (Cᵀ ⊗ A) vec B, C 520), without K it fails."""
    f = x.T @ A @ x
    wrong = md.check(f, x, order=2, grad=2 * A, dps=30)
    assert not wrong.ok and wrong.digits_first < 3 and "FAILED" in wrong.summary()
    assert md.check(f, x, order=2, grad=A + A.T, dps=30).ok
    assert md.check(f, x, order=2, grad="A + A'", dps=30).ok
    assert not md.check(f, x, order=2, grad="2*A", dps=30).ok
    K = md.commutation("n", "n")
    assert md.check(md.logdet(Y), Y, order=2, grad=-md.kron(md.inv(Y), md.inv(Y).T) @ K, dps=30).ok
    assert not md.check(md.logdet(Y), Y, order=2, grad=-md.kron(md.inv(Y), md.inv(Y).T), dps=30).ok


@pytest.mark.parametrize("kw", [{"mode": "bogus"}, {"mode": "entries"}, {"seed": x}, {"strict": True},
                                {"args": [x]}])
def test_order_2_refuses_first_order_options(kw: dict) -> None:
    with pytest.raises(md.ArgumentError, match=f"does not take {next(iter(kw))}="):
        md.check(x.T @ A @ x, x, order=2, **kw)


def test_order_2_candidate_errors() -> None:
    f = x.T @ A @ x
    with pytest.raises(md.ArgumentError, match="Hessian formula"):
        md.check(f, x, order=2, grad=lambda x, A: A + A.T)
    with pytest.raises(md.ShapeError, match="n×n"):
        md.check(f, x, order=2, grad=x)
    with pytest.raises(md.ArgumentError, match="'B'"):
        md.check(f, x, order=2, grad=md.matrix("B", "n", "n"))
    with pytest.raises(md.ArgumentError, match="dps"):
        md.check(f, x, order=2, dps=-3)


def test_the_direction_must_not_be_the_variable() -> None:
    x = md.vector("x", "n")
    with pytest.raises(md.ArgumentError, match="the direction 'x' is the variable itself"):
        md.check_hvp(x.T @ x, x, 2 * x, x)


def test_the_report_names_the_direction() -> None:
    x, u = md.vector("x", "n"), md.vector("U", "n")
    rep = md.check_hvp(x.T @ x, x, 2 * u, u, dps=30)  # ∇²(xᵀx) = 2I
    assert rep and str(rep).startswith("∇²·U of (x.T @ x)")
