"""md.cholesky: the lower factor of chol((S + Sᵀ)/2) and Murray's VJP (arXiv:1602.07527), symmetric as PyTorch's
(pytorch#18825); checked against numpy's Cholesky by float64 differences, and to second order by the certificate."""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md

S = md.matrix("S", 4, 4)
G = md.matrix("G", 4, 4)


def spd(rng: np.random.Generator, n: int = 4, skew: float = 0.3) -> np.ndarray:
    b, c = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    return b @ b.T / n + np.eye(n) + skew * (c - c.T)


def chol_sym(a: np.ndarray) -> np.ndarray:
    return np.linalg.cholesky((a + a.T) / 2)


def test_value_is_numpys_factor_of_the_symmetric_part() -> None:
    a = spd(np.random.default_rng(0))
    L = md.lambdify([S], md.cholesky(S))(a)
    np.testing.assert_allclose(L, chol_sym(a), rtol=1e-14)
    np.testing.assert_allclose(L @ L.T, (a + a.T) / 2, rtol=1e-13)
    assert np.allclose(L, np.tril(L))


@pytest.mark.parametrize("seed", range(4))
def test_vjp_against_float64_differences_and_symmetric(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, g = spd(rng), rng.standard_normal((4, 4))
    sbar = md.lambdify([S, G], md.vjp(md.cholesky(S), S, G))(a, g)
    np.testing.assert_allclose(sbar, sbar.T, atol=1e-13)  # symmetric, whatever G is
    for _ in range(3):
        d = rng.standard_normal((4, 4))
        h = 1e-6
        fd = np.sum(g * (chol_sym(a + h * d) - chol_sym(a - h * d))) / (2 * h)
        assert abs(fd - np.sum(sbar * d)) < 1e-7 * max(1.0, abs(fd))


def test_vjp_is_the_textbook_formula() -> None:
    """S̄ = L⁻ᵀ sym(Φ(Lᵀ L̄)) L⁻¹ with Φ the lower triangle with half its diagonal (Murray 2016, eq. 10)."""
    rng = np.random.default_rng(7)
    a, g = spd(rng), rng.standard_normal((4, 4))
    L = chol_sym(a)
    m = L.T @ g
    p = np.tril(m) - 0.5 * np.diag(np.diag(m))
    want = np.linalg.inv(L).T @ ((p + p.T) / 2) @ np.linalg.inv(L)
    np.testing.assert_allclose(md.lambdify([S, G], md.vjp(md.cholesky(S), S, G))(a, g), want, rtol=1e-12)


def test_certified_to_first_and_second_order() -> None:
    assert md.check(md.cholesky(S), S, seed=G)
    # a derivative of the derivative: f = ⟨H, S̄(S)⟩ with S̄ the VJP above
    H = md.matrix("H", 4, 4)
    sbar = md.vjp(md.cholesky(S), S, G)
    report = md.check(md.sum(H * sbar), S)
    assert report.ok, str(report)


def test_log_det_through_the_factor() -> None:
    """log det S = 2 Σ log Lᵢᵢ, so its gradient is S⁻¹ for symmetric S (C 57)."""
    f = 2 * md.sum(md.log(md.diag(md.cholesky(S))))
    a = spd(np.random.default_rng(3), skew=0.0)
    np.testing.assert_allclose(md.lambdify([S], md.grad(f, S))(a), np.linalg.inv(a), rtol=1e-12)


def test_points_outside_the_domain_are_refused() -> None:
    with pytest.raises(md.CheckError, match="symmetric positive definite"):
        md.check(md.sum(md.cholesky(S)), S, at={"S": -np.eye(4)})


def test_printed_forms() -> None:
    assert md.latex(md.cholesky(S)) == r"\operatorname{chol}\left(S\right)"
    assert md.parse("chol(S)", S="matrix(4, 4)") == md.cholesky(S)
    assert md.simplify(md.cholesky(md.scalar("s"))) == md.sqrt(md.scalar("s"))
