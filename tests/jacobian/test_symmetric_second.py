"""Jacobians and Hessians with respect to a symmetric matrix: J P with P = ½(I + K) (vec V ↦ vec sym V), checked
against float64 second differences of f along symmetric directions and against the hand-derived
−(S⁻¹ ⊗ S⁻¹)P for log det S (d S⁻¹ = −S⁻¹ dS S⁻¹, Cookbook (59))."""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md

S = md.symmetric("S", "n")
A = md.matrix("A", "n", "n")
N = 3


def vec(m: np.ndarray) -> np.ndarray:
    return m.reshape(-1, order="F")


def sym(m: np.ndarray) -> np.ndarray:
    return (m + m.T) / 2


def point(seed: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((N, N))
    return m @ m.T + N * np.eye(N), rng.standard_normal((N, N)), rng


@pytest.mark.parametrize("f", [md.logdet(S), md.trace(S @ A @ S), md.trace(md.inv(S) @ A), md.sum(S * S) * md.det(S)],
                         ids=str)
def test_hessian_matches_second_differences_in_symmetric_directions(f: md.Expr) -> None:
    H = md.hessian(f, S)
    for seed in range(3):
        Sv, Av, rng = point(seed)
        Hv = md.lambdify([S, A], H)(Sv, Av)
        fv = md.lambdify([S, A], f)
        V, W = sym(rng.standard_normal((N, N))), sym(rng.standard_normal((N, N)))
        def d2(h: float) -> float:
            return (fv(Sv + h * V + h * W, Av) - fv(Sv + h * V - h * W, Av) - fv(Sv - h * V + h * W, Av)
                    + fv(Sv - h * V - h * W, Av)) / (4 * h * h)
        h = 1e-2  # Richardson on h, h/2: truncation O(h⁴) ≈ 1e-8, round-off ε|f|/(h/2)² ≈ 1e-11 |f|
        exact = (4 * d2(h / 2) - d2(h)) / 3
        assert vec(V) @ Hv @ vec(W) == pytest.approx(exact, rel=1e-6, abs=1e-9)
        assert np.allclose(Hv, Hv.T, atol=1e-12)  # symmetric
        B = rng.standard_normal((N, N))
        assert np.allclose(Hv @ vec(B), Hv @ vec(sym(B)), atol=1e-12)  # acts through sym(B)


def test_log_det_hessian_is_the_hand_form() -> None:
    Sv, Av, _ = point(7)
    Si = np.linalg.inv(Sv)
    K = np.zeros((N * N, N * N))
    for i in range(N):
        for j in range(N):
            K[j + i * N, i + j * N] = 1.0
    P = (np.eye(N * N) + K) / 2
    Hv = md.lambdify([S], md.hessian(md.logdet(S), S))(Sv)
    assert np.allclose(Hv, -np.kron(Si, Si) @ P, atol=1e-12)


def test_jacobian_of_the_inverse_in_symmetric_directions() -> None:
    J = md.jacobian(md.inv(S), S)
    Sv, _, rng = point(3)
    Jv = md.lambdify([S], J)(Sv)
    V = sym(rng.standard_normal((N, N)))
    Si = np.linalg.inv(Sv)
    assert np.allclose(Jv @ vec(V), vec(-Si @ V @ Si), atol=1e-12)


def test_second_order_certificate_of_a_symmetric_hessian() -> None:
    assert md.check(md.logdet(S), S, order=2, dps=30)
    assert md.check(md.trace(S @ A @ S), S, order=2, dps=30)
