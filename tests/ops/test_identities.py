"""Issue 2 item 4: gradients in textbook form, pinned as exact text and LaTeX and checked in numbers.

Each case gives the expression, the textbook gradient as ``str`` and LaTeX, a hand-written numpy f (for float64
central differences) and the hand-derived gradient from the Matrix Cookbook (Petersen & Pedersen 2012, equation
numbers as (C ·)). SymPy 1.14 returns 0 for d/dX log(det X) and for d/dX (tr X + 1); these are here on purpose.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import matderiv as md
from conftest import assert_canonical, assert_vjp, ev, well_conditioned

N, M, P, Q = 4, 3, 5, 2  # values of the dimension names n, m, p, q
inv, det, tr = np.linalg.inv, np.linalg.det, np.trace


@dataclass
class Case:
    id: str
    build: Callable[[], tuple[md.Expr, md.Expr]]  # () -> (f, wrt)
    text: str
    latex: str
    values: Callable[[np.random.Generator], dict[str, np.ndarray]]  # 2-D values by symbol name
    f: Callable[..., float]  # hand-written numpy f
    grad: Callable[..., np.ndarray]  # the Cookbook's gradient, hand-written numpy


def _vals(**shapes: tuple[int, int]) -> Callable[[np.random.Generator], dict[str, np.ndarray]]:
    """Random generic values; a square X is well conditioned with a positive determinant."""
    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        out = {}
        for name, (r, c) in shapes.items():
            out[name] = well_conditioned(rng, r) if r == c and r > 1 and name == "X" else rng.standard_normal((r, c))
        return out
    return make


def _X(): return md.matrix("X", "n", "m")
def _Xsq(): return md.matrix("X", "n", "n")
def _a(): return md.vector("a", "n")
def _b(): return md.vector("b", "m")
def _x(): return md.vector("x", "n")


CASES = [
    # ∂aᵀXb/∂X = abᵀ (C 70); ∂/∂a = Xb, ∂/∂b = Xᵀa (C 69)
    Case("aXb_X", lambda: (_a().T @ _X() @ _b(), _X()), "a @ b.T", r"a b^{\top}",
         _vals(a=(N, 1), X=(N, M), b=(M, 1)), lambda a, X, b: (a.T @ X @ b).item(), lambda a, X, b: a @ b.T),
    Case("aXb_a", lambda: (_a().T @ _X() @ _b(), _a()), "X @ b", "X b",
         _vals(a=(N, 1), X=(N, M), b=(M, 1)), lambda a, X, b: (a.T @ X @ b).item(), lambda a, X, b: X @ b),
    Case("aXb_b", lambda: (_a().T @ _X() @ _b(), _b()), "X.T @ a", r"X^{\top} a",
         _vals(a=(N, 1), X=(N, M), b=(M, 1)), lambda a, X, b: (a.T @ X @ b).item(), lambda a, X, b: X.T @ a),
    # ∂aᵀXᵀb/∂X = baᵀ (C 71)
    Case("aXTb_X", lambda: (_a().T @ _Xsq().T @ md.vector("b", "n"), _Xsq()), "b @ a.T", r"b a^{\top}",
         _vals(a=(N, 1), X=(N, N), b=(N, 1)), lambda a, X, b: (a.T @ X.T @ b).item(), lambda a, X, b: b @ a.T),
    # ∂xᵀAx/∂x = (A + Aᵀ)x (C 81)
    Case("xAx", lambda: (_x().T @ md.matrix("A", "n", "n") @ _x(), _x()), "(A + A.T) @ x",
         r"\left(A + A^{\top}\right) x",
         _vals(x=(N, 1), A=(N, N)), lambda x, A: (x.T @ A @ x).item(), lambda x, A: (A + A.T) @ x),
    # symmetric S: ∂xᵀSx/∂x = 2Sx (C 81 with S = Sᵀ)
    Case("xSx", lambda: (_x().T @ md.matrix("S", "n", "n", symmetric=True) @ _x(), _x()), "2 * S @ x", "2 S x",
         lambda rng: (lambda s: {"x": rng.standard_normal((N, 1)), "S": s + s.T})(rng.standard_normal((N, N))),
         lambda x, S: (x.T @ S @ x).item(), lambda x, S: 2 * S @ x),
    # ∂ log det X/∂X = X^{-T} (C 57); SymPy 1.14's diff(log(Determinant(X)), X) wrongly returns 0
    Case("logdet", lambda: (md.logdet(_Xsq()), _Xsq()), "inv(X.T)", r"X^{-\top}",
         _vals(X=(N, N)), lambda X: np.log(det(X)), lambda X: inv(X).T),
    Case("log_of_det", lambda: (md.log(md.det(_Xsq())), _Xsq()), "inv(X.T)", r"X^{-\top}",
         _vals(X=(N, N)), lambda X: np.log(det(X)), lambda X: inv(X).T),
    # ∂ log det X⁻¹/∂X = −X^{-T}  (det X⁻¹ = 1/det X, then C 57)
    Case("logdet_inv", lambda: (md.logdet(md.inv(_Xsq())), _Xsq()), "-inv(X.T)", r"-X^{-\top}",
         _vals(X=(N, N)), lambda X: np.log(det(inv(X))), lambda X: -inv(X).T),
    # ∂ det X/∂X = det(X) X^{-T} (C 49)
    Case("det", lambda: (md.det(_Xsq()), _Xsq()), "det(X) * inv(X.T)", r"\det\left(X\right) X^{-\top}",
         _vals(X=(N, N)), lambda X: det(X), lambda X: det(X) * inv(X).T),
    # ∂ tr X/∂X = I (C 100), the constant dropped; SymPy 1.14's diff(Trace(X) + 1, X) wrongly returns 0
    Case("trace_plus_1", lambda: (md.trace(_Xsq()) + 1, _Xsq()), "eye(n)", "I",
         _vals(X=(N, N)), lambda X: tr(X) + 1, lambda X: np.eye(N)),
    # ∂ tr(XA)/∂X = Aᵀ (C 101)
    Case("tr_XA", lambda: (md.trace(_X() @ md.matrix("A", "m", "n")), _X()), "A.T", r"A^{\top}",
         _vals(X=(N, M), A=(M, N)), lambda X, A: tr(X @ A), lambda X, A: A.T),
    # ∂ tr(AXB)/∂X = AᵀBᵀ (C 102)
    Case("tr_AXB", lambda: (md.trace(md.matrix("A", "p", "n") @ _X() @ md.matrix("B", "m", "p")), _X()),
         "A.T @ B.T", r"A^{\top} B^{\top}",
         _vals(A=(P, N), X=(N, M), B=(M, P)), lambda A, X, B: tr(A @ X @ B), lambda A, X, B: A.T @ B.T),
    # ∂ tr(XᵀX)/∂X = ∂‖X‖²_F/∂X = 2X
    Case("tr_XTX", lambda: (md.trace(_X().T @ _X()), _X()), "2 * X", "2 X",
         _vals(X=(N, M)), lambda X: tr(X.T @ X), lambda X: 2 * X),
    Case("frobenius2", lambda: (md.norm2(_X()) ** 2, _X()), "2 * X", "2 X",
         _vals(X=(N, M)), lambda X: np.linalg.norm(X) ** 2, lambda X: 2 * X),
    # ∂ tr(X⁻¹)/∂X = −(X⁻²)ᵀ = −X^{-T}X^{-T} (C 124 with A = B = I)
    Case("tr_inv", lambda: (md.trace(md.inv(_Xsq())), _Xsq()), "-inv(X.T) @ inv(X.T)", r"-\left(X^{-\top}\right)^{2}",
         _vals(X=(N, N)), lambda X: tr(inv(X)), lambda X: -inv(X).T @ inv(X).T),
    # ∂ aᵀX⁻¹b/∂X = −X^{-T} a bᵀ X^{-T} (C 61)
    Case("aXinvb", lambda: (_a().T @ md.inv(_Xsq()) @ md.vector("b", "n"), _Xsq()),
         "-inv(X.T) @ a @ b.T @ inv(X.T)", r"-X^{-\top} a b^{\top} X^{-\top}",
         _vals(a=(N, 1), X=(N, N), b=(N, 1)), lambda a, X, b: (a.T @ inv(X) @ b).item(),
         lambda a, X, b: -inv(X).T @ a @ b.T @ inv(X).T),
    # ∂‖Ax − b‖²/∂x = 2Aᵀ(Ax − b) (C 84 with W = I)
    Case("least_squares", lambda: (md.norm2(md.matrix("A", "p", "n") @ _x() - md.vector("b", "p")) ** 2, _x()),
         "2 * A.T @ (A @ x - b)", r"2 A^{\top} \left(A x - b\right)",
         _vals(A=(P, N), x=(N, 1), b=(P, 1)), lambda A, x, b: float(np.sum((A @ x - b) ** 2)),
         lambda A, x, b: 2 * A.T @ (A @ x - b)),
    # ∂‖AX − B‖²_F/∂X = 2Aᵀ(AX − B)
    Case("least_squares_F", lambda: (md.norm2(md.matrix("A", "p", "n") @ _X() - md.matrix("B", "p", "m")) ** 2, _X()),
         "2 * A.T @ (A @ X - B)", r"2 A^{\top} \left(A X - B\right)",
         _vals(A=(P, N), X=(N, M), B=(P, M)), lambda A, X, B: float(np.sum((A @ X - B) ** 2)),
         lambda A, X, B: 2 * A.T @ (A @ X - B)),
    # logistic loss Σ log(1 + exp(−y ⊙ Xw)): ∂/∂w = −Xᵀ(y ⊙ σ(−y ⊙ Xw))
    Case("logistic", lambda: (md.sum(md.softplus(-md.vector("y", "n") * (_X() @ md.vector("w", "m")))),
                              md.vector("w", "m")),
         "-X.T @ (y * sigmoid(-y * (X @ w)))",
         r"-X^{\top} \left(y \odot \sigma\left(-y \odot \left(X w\right)\right)\right)",
         _vals(y=(N, 1), X=(N, M), w=(M, 1)), lambda y, X, w: float(np.sum(np.log1p(np.exp(-y * (X @ w))))),
         lambda y, X, w: -X.T @ (y / (1 + np.exp(y * (X @ w))))),
    # ∂ logsumexp(x)/∂x = softmax(x)
    Case("logsumexp", lambda: (md.logsumexp(_x()), _x()), "softmax(x)", r"\operatorname{softmax}\left(x\right)",
         _vals(x=(N, 1)), lambda x: float(np.log(np.sum(np.exp(x)))), lambda x: np.exp(x) / np.sum(np.exp(x))),
    # ∂ log det(XᵀX)/∂X = 2X(XᵀX)⁻¹ (C 55)
    Case("logdet_XTX", lambda: (md.logdet(_X().T @ _X()), _X()), "2 * X @ inv(X.T @ X)",
         r"2 X \left(X^{\top} X\right)^{-1}",
         _vals(X=(N, M)), lambda X: np.log(det(X.T @ X)), lambda X: 2 * X @ inv(X.T @ X)),
    # xᵀ X x written with diagonal matrices: Σᵢⱼ xᵢ Xᵢⱼ xⱼ = 1ᵀ diag(x) X diag(x) 1, so ∂/∂x = (X + Xᵀ)x (C 81)
    Case("diag_quadratic", lambda: (md.sum(md.diag(_x()) @ _Xsq() @ md.diag(_x())), _x()), "(X + X.T) @ x",
         r"\left(X + X^{\top}\right) x",
         _vals(x=(N, 1), X=(N, N)), lambda x, X: float(np.sum(np.diag(x[:, 0]) @ X @ np.diag(x[:, 0]))),
         lambda x, X: (X + X.T) @ x),
    # Σ relu(XA − 0.1): ∂/∂A = Xᵀ step(XA − 0.1) (a number comes after the terms it shifts)
    Case("relu_shift", lambda: (md.sum(md.relu(_X() @ md.matrix("A", "m", "p") - 0.1)), md.matrix("A", "m", "p")),
         "X.T @ step(X @ A - 0.1)", r"X^{\top} \operatorname{step}\left(X A - \frac{1}{10}\right)",
         _vals(X=(N, M), A=(M, P)), lambda X, A: float(np.sum(np.maximum(X @ A - 0.1, 0))),
         lambda X, A: X.T @ (X @ A - 0.1 > 0)),
    # negative entropy Σ s ⊙ log s of s = softmax(Ax): ∂/∂x = Aᵀ(s ⊙ (z − sᵀz)) with z = log s (Σ s = 1 used)
    Case("softmax_entropy", lambda: (md.sum(md.softmax(md.matrix("A", "n", "m") @ _b())
                                            * md.log(md.softmax(md.matrix("A", "n", "m") @ _b()))), _b()),
         "A.T @ (softmax(A @ b) * (A @ b - logsumexp(A @ b) - softmax(A @ b).T @ (A @ b - logsumexp(A @ b))))",
         r"A^{\top} \left(\operatorname{softmax}\left(A b\right) \odot \left(A b - \operatorname{logsumexp}\left(A b\right)"
         r" - \operatorname{softmax}\left(A b\right)^{\top} \left(A b - \operatorname{logsumexp}\left(A b\right)\right)\right)\right)",
         _vals(A=(N, M), b=(M, 1)),
         lambda A, b: float(np.sum(_softmax(A @ b) * np.log(_softmax(A @ b)))),
         lambda A, b: A.T @ (_softmax(A @ b) * (np.log(_softmax(A @ b)) - _softmax(A @ b).T @ np.log(_softmax(A @ b))))),
    # ‖X⁻¹A‖²_F: ∂/∂X = −2 X^{-T} (X⁻¹A) (X⁻¹A)ᵀ (Giles §2.3.5, the number outside the solve)
    Case("solve_frobenius", lambda: (md.sum(md.solve(_Xsq(), md.matrix("A", "n", "m")) ** 2), _Xsq()),
         "-2 * solve(X.T, solve(X, A)) @ solve(X, A).T",
         r"-2 X^{-\top} X^{-1} A \left(X^{-1} A\right)^{\top}",
         _vals(X=(N, N), A=(N, M)), lambda X, A: float(np.sum(np.linalg.solve(X, A) ** 2)),
         lambda X, A: -2 * inv(X).T @ inv(X) @ A @ (inv(X) @ A).T),
]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _setup(case: Case) -> tuple[md.Expr, md.Expr, md.Expr, dict[str, np.ndarray]]:
    f, wrt = case.build()
    return f, wrt, md.grad(f, wrt), case.values(np.random.default_rng(7))  # type: ignore[return-value]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_textbook_form(case: Case) -> None:
    _, _, g, _ = _setup(case)
    assert str(g) == case.text
    assert md.latex(g) == case.latex


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_numbers_match_cookbook_and_finite_differences(case: Case) -> None:
    f, wrt, g, vals = _setup(case)
    syms = {s.name: s for s in f.free_symbols}
    assert set(syms) == set(vals)
    names = list(vals)
    derived = ev(g, {syms[k]: vals[k] for k in names})
    np.testing.assert_allclose(derived, case.grad(**vals), rtol=1e-12, atol=1e-12)
    i = names.index(wrt.name)
    assert_vjp(lambda *xs: case.f(**dict(zip(names, xs))), [vals[k] for k in names], {i: derived})


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_result_is_canonical(case: Case) -> None:
    assert_canonical(_setup(case)[2])


def test_gradient_list_gives_tuple() -> None:
    X, a, b = _X(), _a(), _b()
    g = md.grad(a.T @ X @ b, [a, X, b])
    assert isinstance(g, tuple) and [str(e) for e in g] == ["X @ b", "a @ b.T", "X.T @ a"]
    assert md.grad(a.T @ X @ b, "X") == g[1]  # a symbol's name works too


def test_expression_free_of_wrt_has_zero_gradient() -> None:
    X, A = _Xsq(), md.matrix("A", "n", "n")
    g = md.grad(md.trace(A) + md.trace(X) - md.trace(X), X)
    assert g == md.zeros("n", "n") and g.shape == X.shape


def test_least_squares_as_inner_product() -> None:
    A, x, b = md.matrix("A", "p", "n"), _x(), md.vector("b", "p")
    r = A @ x - b
    assert str(md.grad(r.T @ r, x)) == "2 * A.T @ (A @ x - b)"


SCALAR_CHAIN = "a scalar factor s keeps (s ⊙ (xᵀAᵀ))ᵀ + s ⊙ (Aᵀx): transposes of scaled products are not distributed"


@pytest.mark.parametrize("build,forms", [
    (lambda x, A, s: (x.T @ A @ x / s), ["(A + A.T) @ x / s", "((A + A.T) @ x) / s"]),
    (lambda x, A, s: s * (x.T @ A @ x), ["s * (A + A.T) @ x", "s * ((A + A.T) @ x)"]),
    (lambda x, A, s: md.exp(x.T @ A @ x), ["exp(x.T @ A @ x) * (A + A.T) @ x", "exp(x.T @ A @ x) * ((A + A.T) @ x)"]),
], ids=["xAx/s", "s*xAx", "exp(xAx)"])
def test_scalar_times_quadratic_form(build, forms) -> None:  # type: ignore[no-untyped-def]
    x, A, s = _x(), md.matrix("A", "n", "n"), md.scalar("s")
    assert str(md.grad(build(x, A, s), x)) in forms


def test_logdet_of_sum_of_grams() -> None:
    # ∂ log det(XXᵀ + YYᵀ)/∂X = 2 (XXᵀ + YYᵀ)⁻¹ X  (C 55-style, M = XXᵀ + YYᵀ symmetric)
    X, Y = _X(), md.matrix("Y", "n", "m")
    assert str(md.grad(md.logdet(X @ X.T + Y @ Y.T), X)) in ("2 * inv(X @ X.T + Y @ Y.T) @ X",
                                                             "2 * solve(X @ X.T + Y @ Y.T, X)")


def test_square_roots_and_traces_in_textbook_form() -> None:
    X, A, s, x = _Xsq(), md.matrix("A", "n", "n"), md.scalar("s"), _x()
    # ∂√det X/∂X = ½ √det X X^{-T} (C 49 and the chain rule)
    assert str(md.grad(md.sqrt(md.det(X)), X)) == "0.5 * sqrt(det(X)) * inv(X.T)"
    # ∂ tr(sAX)/∂s = tr(AX), and ∂ Σ √x ⊙ x/∂x = 1.5 √x
    assert str(md.grad(md.trace(s * A @ X), s)) == "trace(A @ X)"
    assert str(md.grad(md.sum(md.sqrt(x) * x), x)) == "1.5 * sqrt(x)"
    rng = np.random.default_rng(3)
    X0, x0 = well_conditioned(rng, N), rng.uniform(0.5, 2, (N, 1))
    assert_vjp(lambda v: np.sqrt(det(v)), [X0], {0: ev(md.grad(md.sqrt(md.det(X)), X), {X: X0})})
    assert_vjp(lambda v: float(np.sum(np.sqrt(v) * v)), [x0], {0: ev(md.grad(md.sum(md.sqrt(x) * x), x), {x: x0})})
    assert abs(X) == md.abs(X)  # Python's abs is the elementwise |X|
