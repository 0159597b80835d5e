"""Gradients with respect to a symmetric S: sym(G) = (G + Gᵀ)/2 of the unconstrained G (Srinivasan & Panda 2019,
arXiv:1911.06491), against hand-derived forms, float64 central differences in symmetric directions and mpmath (md.check);
the Matrix Cookbook's (141)–(142) form G + Gᵀ − G∘I is shown not to be a gradient in the Frobenius inner product."""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md

N = 4
S = md.symmetric("S", "n")
A = md.matrix("A", "n", "n")
x = md.vector("x", "n")


def _spd(rng: np.random.Generator, n: int = N) -> np.ndarray:
    m = rng.standard_normal((n, n))
    return m @ m.T / n + np.eye(n)


def _sym_dir(rng: np.random.Generator, n: int = N) -> np.ndarray:
    d = rng.standard_normal((n, n))
    return (d + d.T) / 2


def _vals(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"S": _spd(rng), "A": rng.standard_normal((N, N)), "x": rng.standard_normal(N)}


# f(S, A, x) as numpy, and the hand-derived gradient on the symmetric matrices sym(G):
#   log det S      G = S⁻ᵀ = S⁻¹ (C 57)                        sym(G) = S⁻¹
#   tr(A S)        G = Aᵀ (C 100)                               sym(G) = (A + Aᵀ)/2
#   xᵀ S x         G = x xᵀ (C 70)                              sym(G) = x xᵀ
#   tr(S⁻¹ A)      G = −S⁻ᵀ Aᵀ S⁻ᵀ = −S⁻¹ Aᵀ S⁻¹ (C 113)         sym(G) = −S⁻¹ (A + Aᵀ)/2 S⁻¹
CASES = {
    "logdet S": (lambda: md.logdet(S), lambda S, A, x: np.linalg.slogdet(S)[1],
                 lambda S, A, x: np.linalg.inv(S)),
    "tr(A S)": (lambda: md.trace(A @ S), lambda S, A, x: np.trace(A @ S),
                lambda S, A, x: (A + A.T) / 2),
    "x'Sx": (lambda: x.T @ S @ x, lambda S, A, x: x @ S @ x,
             lambda S, A, x: np.outer(x, x)),
    "tr(inv(S) A)": (lambda: md.trace(md.inv(S) @ A), lambda S, A, x: np.trace(np.linalg.solve(S, A)),
                     lambda S, A, x: -np.linalg.inv(S) @ ((A + A.T) / 2) @ np.linalg.inv(S)),
}


def _evaluate(g: md.Expr, vals: dict[str, np.ndarray]) -> np.ndarray:
    args = sorted(g.free_symbols, key=lambda s: s.name)
    return np.asarray(md.lambdify(args, g)(*(vals[a.name] for a in args)), dtype=float)


@pytest.mark.parametrize("name", CASES)
def test_gradient_is_sym_of_the_unconstrained_one(name: str) -> None:
    make, f, hand = CASES[name]
    g = md.grad(make(), S)
    assert g.shape == S.shape
    rng = np.random.default_rng(1)
    for _ in range(3):
        vals = _vals(rng)
        got = _evaluate(g, vals)
        np.testing.assert_allclose(got, hand(**vals), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got, got.T, rtol=0, atol=1e-12)  # a symmetric gradient


@pytest.mark.parametrize("name", CASES)
def test_directional_derivatives_in_symmetric_directions_float64(name: str) -> None:
    """⟨sym G, V⟩ = (f(S + hV) − f(S − hV))/2h + O(h²) for symmetric V; the Cookbook form G + Gᵀ − G∘I misses it."""
    make, f, hand = CASES[name]
    rng = np.random.default_rng(2)
    vals = _vals(rng)
    g = _evaluate(md.grad(make(), S), vals)
    cookbook = 2 * g - np.diag(np.diag(g))  # (141)–(142) applied to the symmetric G
    cookbook_misses = 0
    for _ in range(4):
        v = _sym_dir(rng)
        h = 1e-5
        fd = (f(vals["S"] + h * v, vals["A"], vals["x"]) - f(vals["S"] - h * v, vals["A"], vals["x"])) / (2 * h)
        assert abs(np.sum(g * v) - fd) <= 1e-7 * max(1.0, abs(fd))
        cookbook_misses += abs(np.sum(cookbook * v) - fd) > 1e-3 * max(1.0, abs(fd))
    assert cookbook_misses >= 3


def test_logdet_numbers_for_the_guide() -> None:
    """d/dS log det S at S = [[2, 1], [1, 3]] along V = [[0, 1], [1, 0]]: S⁻¹ gives −0.4, the finite difference too,
    and the Cookbook's 2S⁻¹ − S⁻¹∘I gives −0.8."""
    s = np.array([[2.0, 1.0], [1.0, 3.0]])
    v = np.array([[0.0, 1.0], [1.0, 0.0]])
    g = _evaluate(md.grad(md.logdet(md.symmetric("S", 2)), "S"), {"S": s})
    np.testing.assert_allclose(g, [[0.6, -0.2], [-0.2, 0.4]], rtol=1e-14)
    h = 1e-6
    fd = (np.linalg.slogdet(s + h * v)[1] - np.linalg.slogdet(s - h * v)[1]) / (2 * h)
    assert abs(fd - (-0.4)) < 1e-9
    assert abs(np.sum(g * v) - (-0.4)) < 1e-14
    assert abs(np.sum((2 * g - np.diag(np.diag(g))) * v) - (-0.8)) < 1e-14


@pytest.mark.parametrize("name", CASES)
def test_certified_by_mpmath_in_symmetric_directions(name: str) -> None:
    make, _, _ = CASES[name]
    f = make()
    report = md.check(f, S, dps=30)
    assert report.ok, str(report)
    assert report.digits_mpmath["S"] >= 20


def test_check_samples_symmetric_points_and_refuses_the_cookbook_form() -> None:
    """md.check's directions are symmetric (so the unconstrained Aᵀ certifies too: ⟨Aᵀ, V⟩ = ⟨sym Aᵀ, V⟩), while the
    Cookbook form, G + Gᵀ − G∘I, fails."""
    f = md.trace(A @ S)
    assert md.check(f, S, grad=A.T, dps=30).ok
    g = md.grad(f, S)
    cookbook = 2 * g - md.diag(md.diag(g))
    assert not md.check(f, S, grad=cookbook, dps=30).ok


def test_symmetric_constructor_and_vjp() -> None:
    assert md.symmetric("S", 3) == md.matrix("S", 3, 3, symmetric=True)
    assert md.symmetric("S", 3).symmetric
    assert md.symmetric("s", 1) == md.scalar("s")  # a 1×1 value is symmetric anyway
    y = md.vector("y", "n")
    gv = md.vjp(S @ x, S, y)  # ∂⟨y, Sx⟩/∂S on the symmetric matrices: (y xᵀ + x yᵀ)/2
    rng = np.random.default_rng(3)
    xv, yv = rng.standard_normal(N), rng.standard_normal(N)
    got = _evaluate(gv, {"x": xv, "y": yv})
    np.testing.assert_allclose(got, (np.outer(yv, xv) + np.outer(xv, yv)) / 2, rtol=1e-13)


def test_unconstrained_matrix_keeps_the_unconstrained_gradient() -> None:
    assert md.grad(md.trace(A @ md.matrix("B", "n", "n")), "B") == A.T


def test_generated_code_uses_one_matrix_for_s_and_its_transpose() -> None:
    """S⁻ᵀ is S⁻¹: no S.T in the code, and xᵀS⁻¹ and S⁻¹x are one value — a product with the inverse the
    gradient computes anyway (no solve)."""
    g = md.grad(md.logdet(S) + x.T @ md.inv(S) @ x, S)
    code = md.numpy_code(g, args=[S, x])
    assert "S.T" not in code
    body = code.split('"""')[-1]
    assert body.count("np.linalg.inv(S)") == 1 and "solve" not in body and body.count(" @ x") == 1
    rng = np.random.default_rng(4)
    s, xv = _spd(rng), rng.standard_normal(N)
    si = np.linalg.inv(s)
    np.testing.assert_allclose(md.lambdify([S, x], g)(s, xv), si - si @ np.outer(xv, xv) @ si, rtol=1e-10)
    code = md.numpy_code(md.grad(md.trace(md.inv(S) @ A), S), args=[S, A])
    assert "S.T" not in code


def test_text_language_declaration_and_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`where S: symmetric` declares the symmetric variable; the command derives and certifies sym(G)."""
    from matderiv.app.cli import main
    assert md.grad(md.parse("logdet(S) where S: symmetric"), "S") == md.inv(S)
    assert md.grad(md.logdet(S), S) == md.inv(S)  # C 57 with S⁻ᵀ = S⁻¹
    assert md.grad(x.T @ S @ x, S) == x @ x.T
    rc = main(["grad", "tr(A*S) where S: symmetric", "--wrt", "S", "--dps", "20"])
    out = capsys.readouterr().out
    assert rc == 0 and "certified" in out
    assert "0.5*(A + A')" in out
    assert "S: n×n (symmetric)" in out


def test_structural_transpose_test() -> None:
    """sym(G) is skipped only where G = Gᵀ by structure (C 4, C 5); anything it cannot tell is symmetrised."""
    from matderiv.ad import transposes
    B = md.matrix("B", "n", "n")
    assert transposes(A @ B, B.T @ A.T)
    assert transposes(A + A.T, A + A.T)
    assert transposes(md.inv(S) @ x @ x.T @ md.inv(S), md.inv(S) @ x @ x.T @ md.inv(S))
    assert transposes(md.exp(A), md.exp(A.T))
    assert not transposes(A, A)
    assert not transposes(A @ B, A.T @ B.T)
    assert not transposes(A + B, A.T + A.T)
