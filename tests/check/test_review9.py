"""Issue 9 review fixes: the precision sanity of the mpmath probe along each direction, non-deterministic functions
and weak references (inconclusive), zero gradients (an absolute zero scale), badly scaled inputs and non-finite
references, cancellation in f itself, float32 gradients, check_vjp(seed=) alone, functools.partial, the entries and
probe budgets, reproducible reports. Correct gradients are hand-derived; the wrong ones have a known defect."""
from __future__ import annotations

import functools
import sys

import mpmath
import numpy as np
import pytest

import matderiv as md


def inv_T(X: np.ndarray) -> np.ndarray:
    return np.linalg.inv(X).T


# ---- 1. a function that rounds part of its work to float64 -----------------------------------------------------
def _partly_rounded(x: np.ndarray) -> object:
    """Σx² + x₀x₁, the product rounded to float64 (np.float64 of an mpf): its mpmath value moves with x₀x₁ only
    at steps above float64's resolution."""
    return (x * x).sum() + np.float64(x[0] * x[1])


def _partly_rounded_grad(x: np.ndarray) -> np.ndarray:
    return np.array([2 * x[0] + x[1], 2 * x[1] + x[0], 2 * x[2]])


def test_a_function_rounding_part_of_its_work_to_float64_is_caught_along_the_directions() -> None:
    x0 = np.array([0.7, -1.3, 0.4])
    right = md.gradcheck(_partly_rounded, (x0,), grad=_partly_rounded_grad)
    assert right and right.reference_kind == "float64"
    assert "precision ignored" in str(right) and "float64 reference is used" in str(right)
    # the gradient of the unrounded part alone (what the mpmath reference saw before) must fail
    wrong = md.gradcheck(_partly_rounded, (x0,), grad=lambda x: 2 * x)
    assert not wrong and not wrong.inconclusive


def test_a_function_that_follows_the_precision_keeps_the_mpmath_reference() -> None:
    f = lambda x: sum(mpmath.exp(v) if isinstance(v, mpmath.mpf) else np.exp(v) for v in x)  # noqa: E731
    r = md.gradcheck(f, (np.array([0.3, -0.7, 1.1]),), grad=np.exp)
    assert r and r.reference_kind == "mpmath" and "steps of 1e-8" in r.reference


# ---- 2. non-deterministic functions, weak references ------------------------------------------------------------
def test_a_non_deterministic_function_is_inconclusive() -> None:
    noise = np.random.default_rng(5)
    f = lambda x: float((x ** 2).sum() + 1e-9 * noise.random())  # noqa: E731
    r = md.gradcheck(f, (np.array([1.0, 2.0]),), grad=lambda x: 2 * x)
    assert not r and r.inconclusive and "not deterministic" in str(r)
    X = md.matrix("X", 3, 3)
    r = md.check(md.logdet(X), X, grad=lambda X: inv_T(X) * (1 + 1e-12 * noise.random()))
    assert not r and "not deterministic" in str(r) and str(r).startswith("INCONCLUSIVE")


def test_a_reference_good_to_fewer_than_6_digits_is_inconclusive() -> None:
    f = lambda x: float(np.float32((x ** 2).sum()))  # noqa: E731  φ itself has 7 digits
    r = md.gradcheck(f, (np.array([0.3, 1.7, -0.9]),), grad=lambda x: 2 * x)
    assert r.reference_digits < 6
    assert not r and r.inconclusive and "good to only" in str(r)


# ---- 3. zero gradients -----------------------------------------------------------------------------------------
def test_a_correct_zero_gradient_is_certified_not_zero_digits() -> None:
    X, A = md.matrix("X", 3, 3), md.matrix("A", 3, 3)
    A0 = np.random.default_rng(0).standard_normal((3, 3))
    r = md.check(md.sum((X - A) ** 2), X, grad=lambda X, A: 2 * (X - A), at={"X": A0, "A": A0})
    assert r and r.kinks == 0 and r["X"].digits >= 15 and r.reference_digits >= 45  # a minimum, not a kink
    r = md.gradcheck(lambda x: (x ** 2).sum(), (np.zeros(3),), grad=lambda x: 2 * x)
    assert r and r.reference_digits == 30
    x = md.vector("x", 5)  # Σ softmax = 1: the gradient is 0, the hand-written one 0 ± round-off
    g = lambda x: (lambda s: 1e3 * s * (1 - s.sum()))(np.exp(x) / np.exp(x).sum())  # noqa: E731
    assert all(md.check(1e3 * md.sum(md.softmax(x)), x, grad=g, rng=k) for k in range(5))


def test_a_zero_gradient_through_float64_differences_is_no_false_alarm() -> None:
    """1e10·(Σ softmax(x) − 1) is 0 ± 1e-6 of round-off in float64; its gradient is 0. Before the fix, 2 of 30 seeds
    failed with a tolerance of 1e-18 (Ridders' estimate fooled by quantized values)."""
    def f(x: np.ndarray) -> float:
        s = np.exp(x - x.max())
        return 1e10 * (s / s.sum()).sum() - 1e10
    failed = 0
    for seed in range(30):
        r = md.gradcheck(f, (np.random.default_rng(seed).standard_normal(8),), grad=lambda x: 0 * x, rng=seed)
        failed += any(not v.ok for v in r.variables)
    assert failed == 0


def test_relu_entries_exactly_at_zero_stay_kinks() -> None:
    x = md.vector("x", 3)
    r = md.check(md.sum(md.relu(x)), x, grad=lambda x: (x > 0).astype(float), at={"x": [0.0, 0.0, 0.0]})
    # every entry is at a kink: reported as kinks, but nothing vouches for the gradient (any value would do there),
    # so the report is inconclusive, not "correct" — a gradient of 100 at each entry must not pass either
    assert not r and r.kinks == 3 and "every comparison of x lies at a kink" in str(r)
    assert not md.check(md.sum(md.relu(x)), x, grad=lambda x: 100.0 + 0 * x, at={"x": [0.0, 0.0, 0.0]})
    assert not md.check(md.sum(md.relu(x)), x, grad=lambda x: (x > 0).astype(float), at={"x": [0.0, 0.0, 0.0]},
                        strict=True)


# ---- 4. badly scaled inputs, non-finite references -------------------------------------------------------------
def test_entries_of_1e_minus_8_next_to_1e8_get_steps_of_their_own_size() -> None:
    x0 = np.array([1e-8, 1e8, 1.0])
    f = lambda x: np.log(np.asarray(x, dtype=float)).sum()  # noqa: E731  float64 only (the float64 reference)
    r = md.gradcheck(f, (x0,), grad=lambda x: 1 / x)
    assert r and r.reference_kind == "float64" and r.reference_digits >= 8
    assert not md.gradcheck(f, (x0,), grad=lambda x: (1 / x) * np.array([1, 1, 1 + 1e-6]))


def test_a_non_finite_reference_is_a_check_error_naming_the_input() -> None:
    f = lambda x: np.log(np.asarray(x, dtype=float)).sum()  # noqa: E731
    with pytest.raises(md.CheckError, match="not finite.*at the point"):
        md.gradcheck(f, (np.array([-1.0, 2.0]),), grad=lambda x: 1 / x)
    g = lambda x: np.sqrt(np.asarray(x, dtype=float) - 1).sum()  # noqa: E731  finite at x = 1, NaN below
    with pytest.raises(md.CheckError, match="not finite along a direction of 'x'"):
        md.gradcheck(g, (np.array([1.0, 1.0]),), grad=lambda x: np.zeros(2))


# ---- 5. cancellation in f itself ---------------------------------------------------------------------------------
def _sigmoid_tail_grad(x: np.ndarray) -> np.ndarray:
    s = 1 / (1 + np.exp(-x))
    return -s * (1 - s)  # right, and as cancelled as f = 1 − s


def _one_minus_sigmoid(u: md.Expr) -> md.Expr:
    """1 − σ(u) with σ(u) = (1 + tanh(u/2))/2: a spelling the generated code evaluates as written, cancelled
    (1 − 1/(1 + e^{−u}) it evaluates as σ(−u), with all its digits)."""
    return 1 - (1 + md.tanh(u / 2)) / 2


@pytest.mark.parametrize("x0", [7.0, 15.0, 25.0, 30.0, 35.0, 40.0])
def test_one_minus_sigmoid_at_large_x_with_the_right_gradient_does_not_fail(x0: float) -> None:
    x = md.scalar("x")
    f = _one_minus_sigmoid(x)
    assert md.check(f, x, grad=_sigmoid_tail_grad, at={"x": x0})
    v = md.vector("v", 4)  # four terms: their errors average in f's, not in the gradient's entries
    at = {"v": [x0, x0 + 0.3, x0 + 0.6, x0 + 0.9]}
    assert all(md.check(md.sum(_one_minus_sigmoid(v)), v, grad=_sigmoid_tail_grad, at=at, rng=k) for k in range(3))
    exact = lambda x: -1 / ((1 + np.exp(-x)) * (1 + np.exp(x)))  # noqa: E731  −σ(x)σ(−x), no cancellation
    assert md.check(1 - 1 / (1 + md.exp(-x)), x, grad=exact, at={"x": x0})
    if x0 <= 30:  # where f has digits left, a wrong sign still fails
        assert not md.check(f, x, grad=lambda x: -_sigmoid_tail_grad(x), at={"x": x0})


def test_one_minus_sigmoid_in_float64_differences() -> None:
    f = lambda x: (1 - 1 / (1 + np.exp(-x))).sum()  # noqa: E731
    r = md.gradcheck(f, (np.array([25.0]),), grad=_sigmoid_tail_grad)
    # f has ~5 digits in float64 there: no false FAILED, and no false "correct" either — the reference says so
    assert r.reference_kind == "float64" and all(v.ok for v in r.variables)
    assert not r and "good to only" in str(r)
    flat = md.gradcheck(f, (np.array([40.0]),), grad=lambda x: -np.exp(-x))  # f is exactly 0 in float64 there
    assert not flat and flat.inconclusive and "did not change" in str(flat)


# ---- 6. smaller ones ----------------------------------------------------------------------------------------------
def test_a_float32_numpy_gradient_gets_a_consistent_verdict_and_a_hint() -> None:
    X = md.matrix("X", 8, 8)
    g32 = lambda X: np.linalg.inv(X.astype(np.float32)).T  # noqa: E731
    assert all(md.check(md.logdet(X), X, grad=g32, rng=k) for k in range(6))
    assert "the gradient is float32: at best ~7 digits" in str(md.check(md.logdet(X), X, grad=g32))
    assert not md.check(md.logdet(X), X, grad=lambda X: g32(X) * np.float32(1.001))


def test_check_vjp_with_a_seed_and_no_point() -> None:
    X = md.matrix("X", 4, 4)
    S0 = np.arange(16.0).reshape(4, 4) / 10
    r = md.check_vjp(md.inv(X), X, vjp=lambda X, S: -inv_T(X) @ S @ inv_T(X), seed=S0)
    assert r
    assert not md.check_vjp(md.inv(X), X, vjp=lambda X, S: -np.linalg.inv(X) @ S @ np.linalg.inv(X), seed=S0)


def test_a_functools_partial_gradient() -> None:
    X = md.matrix("X", 4, 4)

    def scaled(c: float, X: np.ndarray) -> np.ndarray:
        return c * inv_T(X)
    assert md.check(2 * md.logdet(X), X, grad=functools.partial(scaled, 2.0))  # partial.args = (2.0,): no symbols
    assert not md.check(2 * md.logdet(X), X, grad=functools.partial(scaled, 1.0))
    assert md.check(2 * md.logdet(X), X, grad=functools.partial(scaled, c=2.0))
    A, x = md.matrix("A", 3, 3), md.vector("x", 3)
    assert md.check(x.T @ A @ x, x, grad=functools.partial(lambda A, x: (A + A.T) @ x))


def test_entries_mode_refuses_more_than_2000_entries() -> None:
    X = md.matrix("X", 50, 50)
    with pytest.raises(md.ArgumentError, match=r"2500 entries of 'X'.*at most 2000.*mode='directions'"):
        md.check(md.sum(X * X), X, grad=lambda X: 2 * X, mode="entries")
    with pytest.raises(md.ArgumentError, match="at most 2000"):
        md.gradcheck(lambda x: (x * x).sum(), (np.ones(2001),), grad=lambda x: 2 * x, mode="entries")


def test_the_mpmath_probe_has_a_size_and_a_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    f, g = (lambda x: (x * x).sum()), (lambda x: 2 * x)
    assert md.gradcheck(f, (np.ones(3),), grad=g).reference_kind == "mpmath"
    gradcheck_module = sys.modules["matderiv.check.gradcheck"]
    monkeypatch.setattr(gradcheck_module, "PROBE_SECONDS", 0.0)
    r = md.gradcheck(f, (np.ones(3),), grad=g)
    assert r and r.reference_kind == "float64" and "took" in str(r)
    monkeypatch.setattr(gradcheck_module, "PROBE_ENTRIES", 2)
    r = md.gradcheck(f, (np.ones(3),), grad=g)
    assert r and r.reference_kind == "float64" and "3 entries" in str(r)


def test_reports_state_the_seed_and_the_sizes() -> None:
    X = md.matrix("X", "n", "n")
    r = md.check(md.logdet(X), X, grad=np.linalg.inv, rng=7, at={"n": 4})
    assert not r and "reproduce: rng=7; sizes: X 4×4" in str(r)
    r = md.gradcheck(lambda x: (x ** 3).sum(), (np.ones((2, 3)),), grad=lambda x: 2 * x, rng=3)
    assert not r and "reproduce: rng=3; sizes: x 2×3" in str(r)


def test_a_function_near_zero_does_not_widen_the_tolerance() -> None:
    """φ(x) ≈ 0 at the point (a constraint on its surface; log det of a rotation): φ's float value there is all
    rounding, which must not count as φ's relative round-off (it made any gradient pass)."""
    x = md.vector("x", 4)
    x0 = np.random.default_rng(0).standard_normal(4)
    x0 /= np.linalg.norm(x0)
    f = md.sum(x * x) - 1  # ∇ = 2x
    assert md.check(f, x, grad=lambda v: 2 * v, at={"x": x0})
    for wrong in (lambda v: 3 * v, lambda v: -v, lambda v: 20 * v):
        assert not md.check(f, x, grad=wrong, at={"x": x0})
    assert not md.gradcheck(lambda v: (v * v).sum() - 1, (x0,), grad=lambda v: 20 * v)
    X = md.matrix("X", 4, 4)
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1  # a rotation: log det = 0
    assert md.check(md.logdet(X), X, at={"X": q}, grad=lambda A: np.linalg.inv(A).T)  # Cookbook (57)
    assert not md.check(md.logdet(X), X, at={"X": q}, grad=lambda A: np.linalg.inv(A))  # the missing transpose


def test_a_kink_off_the_axes_leaves_nothing_checked() -> None:
    """|Σx| + Σx³ at Σx = 0: every entry touches the kink, so nothing is compared — inconclusive, never correct
    (here the cubic part is 10× wrong)."""
    x = md.vector("x", 4)
    at = {"x": [0.3, -0.7, -0.3, 0.7]}
    f = md.abs(md.sum(x)) + md.sum(x ** 3)
    r = md.check(f, x, grad=lambda v: 10 * 3 * v ** 2, at=at, mode="entries")
    assert not r and r.kinks == 4 and "every comparison of x lies at a kink" in str(r)
