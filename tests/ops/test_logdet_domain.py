"""log det outside its domain, and log |det| everywhere it is defined (issue 6: logabsdet, the first op added to
the restructured registry)."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy

import matderiv as md

X = md.matrix("X", 4, 4)
NEG = np.array([[1.0, 2, 0, 0], [3, 4, 0, 0], [0, 0, 1, 0.5], [0, 0.2, 0, 2]])  # det = −4
assert np.linalg.det(NEG) < 0


def test_logdet_is_nan_outside_its_domain_in_numpy_and_mpmath() -> None:
    assert np.isnan(md.lambdify([X], md.logdet(X))(NEG))
    with mpmath.workdps(30):
        assert mpmath.isnan(md.mpmath_function([X], md.logdet(X))(mpmath.matrix(NEG.tolist())))
    pos = NEG @ NEG.T
    np.testing.assert_allclose(md.lambdify([X], md.logdet(X))(pos), np.log(np.linalg.det(pos)), rtol=1e-14)


def test_logabsdet_value_and_gradient_at_a_negative_determinant() -> None:
    np.testing.assert_allclose(md.lambdify([X], md.logabsdet(X))(NEG), np.log(4.0), rtol=1e-14)
    g = md.grad(md.logabsdet(X), X)
    assert str(g) == "inv(X.T)"  # X^{-T} (Cookbook 57, either sign)
    np.testing.assert_allclose(md.lambdify([X], g)(NEG), np.linalg.inv(NEG).T, rtol=1e-13)
    report = md.check(md.logabsdet(X), X, at={"X": NEG})
    assert report.ok, str(report)


def test_log_of_abs_det_becomes_logabsdet_and_prints_as_a_paper_does() -> None:
    e = md.simplify(md.log(md.abs(md.det(X))))
    assert e == md.logabsdet(X)
    assert md.latex(e) == r"\log\left|\det\left(X\right)\right|"
    assert md.parse("logabsdet(X)", X="matrix(4, 4)") == e
    assert md.from_sympy(sympy.log(sympy.Abs(sympy.Determinant(sympy.MatrixSymbol("X", 4, 4))))) is not None
    assert md.simplify(md.from_sympy(md.to_sympy(e))) == e


def test_logabsdet_of_a_scalar_is_log_abs() -> None:
    s = md.scalar("s")
    assert md.simplify(md.logabsdet(s)) == md.log(md.abs(s))


@pytest.mark.parametrize("seed", range(5))
def test_logabsdet_gradient_against_float64_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 4))
    g = md.lambdify([X], md.grad(md.logabsdet(X), X))(A)
    D = rng.standard_normal((4, 4))
    h = 1e-6
    fd = (np.linalg.slogdet(A + h * D)[1] - np.linalg.slogdet(A - h * D)[1]) / (2 * h)
    assert abs(fd - np.sum(g * D)) < 1e-6 * max(1.0, abs(fd))
