"""Issue 9: checking gradients the user computed — md.check(grad=<function | array | text>), md.check_vjp,
md.gradcheck on numpy functions, entries mode and located entries, kinks, the precision sanity of the reference,
md.testing. The correct gradients here are hand-derived identities written in numpy (never matderiv's output);
the wrong ones are those with a known defect (one entry off, a transpose, a factor)."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

import matderiv as md
from matderiv.check.compare import GradReport


def inv_T(X: np.ndarray) -> np.ndarray:
    return np.linalg.inv(X).T


def one_entry_off(rel: float, i: int = 3, j: int = 7):
    def g(X: np.ndarray) -> np.ndarray:
        G = inv_T(X).copy()
        G[i, j] *= 1 + rel
        return G
    return g


X20 = md.matrix("X", 20, 20)


# ---- 1. hand-written gradients --------------------------------------------------------------------------------------
def test_a_numpy_function_certifies() -> None:
    r = md.check(md.logdet(X20), X20, grad=inv_T, dps=30)
    assert isinstance(r, GradReport) and r.ok and bool(r)
    assert r.reference_kind == "mpmath" and r.reference_digits == 30
    assert r["X"].digits >= 13
    assert str(r).startswith("correct: the gradient of logdet(X) for X — 3 directions agree")


@pytest.mark.parametrize("rng", [0, 1, 2])
def test_a_single_entry_off_by_1e_10_in_a_20x20_logdet_gradient_is_flagged_and_located(rng: int) -> None:
    r = md.check(md.logdet(X20), X20, grad=one_entry_off(1e-10), dps=30, rng=rng)
    assert not r
    worst = r["X"].worst_entry
    assert worst is not None and worst.index == (3, 7)
    assert worst.rel_err == pytest.approx(1e-10, rel=1e-3)
    assert "worst entry found" in str(r) and "X[3, 7]" in str(r)


def test_no_false_alarm_on_correct_code_over_seeds_and_problems() -> None:
    """The quick share of bench/false_alarms.py: 12 problems × 6 seeds, n = 2…20, all correct, 0 alarms (the full
    run: 0 false alarms in 2400 checks, 200 seeds)."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("fa", Path(__file__).resolve().parents[2] / "bench" / "false_alarms.py")
    fa = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fa)  # type: ignore[union-attr]
    alarms, total = 0, 0
    for seed in range(6):
        n = [2, 3, 5, 8, 12, 20][seed]
        for name, f, v, g in fa.problems(n):
            total += 1
            alarms += not md.check(f, v, grad=g, dps=30, rng=100 + seed)
    assert (alarms, total) == (0, 72)


def test_keyword_order_args_order_and_one_function_for_several_variables() -> None:
    a, b = md.vector("a", "n"), md.vector("b", "m")
    X = md.matrix("X", "n", "m")
    f = a.T @ X @ b
    assert md.check(f, X, grad=lambda b, a: np.outer(a, b))  # by keyword, any order, unused X left out
    assert md.check(f, X, grad=lambda p, q, r: np.outer(p, r), args=[a, X, b])  # positional, md.lambdify order
    assert md.check(f, [a, b], grad=lambda a, X, b: (X @ b, X.T @ a))
    assert md.check(f, [a, b], grad=[lambda X, b: X @ b, lambda a, X: X.T @ a])
    fn = md.lambdify([a, X, b], md.grad(f, X))  # an md.lambdify function knows its argument order
    assert md.check(f, X, grad=fn)
    with pytest.raises(md.ArgumentError, match=r"cannot tell which argument.*\(p, q, r\).*args="):
        md.check(f, X, grad=lambda p, q, r: np.outer(p, r))


def test_a_wrong_hand_written_gradient_fails() -> None:
    x, A = md.vector("x", "n"), md.matrix("A", "n", "n")
    r = md.check(x.T @ A @ x, x, grad=lambda A, x: 2 * A @ x)  # right only for a symmetric A
    assert not r and r["x"].worst.digits < 3


def test_an_array_at_a_point_and_text() -> None:
    X = md.matrix("X", 3, 3)
    X0 = np.array([[3.0, 1, 0], [1, 4, 1], [0, 2, 5]])
    assert md.check(md.logdet(X), X, grad=np.linalg.inv(X0).T, at={"X": X0})
    assert not md.check(md.logdet(X), X, grad=np.linalg.inv(X0), at={"X": X0})
    with pytest.raises(md.ArgumentError, match="at="):
        md.check(md.logdet(X), X, grad=np.linalg.inv(X0).T)
    r = md.check(md.logdet(X), X, grad="inv(X')")
    assert isinstance(r, md.CheckReport) and r.ok  # text is a formula: certified at dps − 10 digits
    assert not md.check(md.logdet(X), X, grad="inv(X)")


def test_the_users_errors_are_matderiv_errors_naming_the_culprit() -> None:
    X = md.matrix("X", 3, 3)
    with pytest.raises(md.ShapeError, match=r"grad value for 'X' has shape \(2, 2\)"):
        md.check(md.logdet(X), X, grad=lambda X: np.eye(2))
    with pytest.raises(md.CheckError, match="calling grad failed: ZeroDivisionError"):
        md.check(md.logdet(X), X, grad=lambda X: 1 / 0)
    with pytest.raises(md.ArgumentError, match="not an array of numbers"):
        md.check(md.logdet(X), X, grad=lambda X: "inv")
    with pytest.raises(md.ArgumentError, match="mode must be"):
        md.check(md.logdet(X), X, grad=inv_T, mode="all")
    with pytest.raises(md.ParseError):
        md.check(md.logdet(X), X, grad="inv(X'")


# ---- 2. VJPs ---------------------------------------------------------------------------------------------------------
def test_check_vjp_tells_the_right_vjp_of_the_inverse_from_a_transposed_one() -> None:
    X = md.matrix("X", 5, 5)
    right = md.check_vjp(md.inv(X), X, vjp=lambda X, S: -inv_T(X) @ S @ inv_T(X))
    wrong = md.check_vjp(md.inv(X), X, vjp=lambda X, S: -np.linalg.inv(X) @ S @ np.linalg.inv(X))
    assert right and not wrong
    assert wrong["X"].worst.digits < 2 and wrong["X"].worst_entry is not None


def test_check_vjp_of_the_tutorials_second_example_with_a_given_seed() -> None:
    A, X = md.matrix("A", 2, 2), md.matrix("X", 2, 3)
    at = {"A": [[1, 2], [3, 4]], "X": [[1, 2, 3], [4, 5, 6]]}
    assert md.check_vjp(A @ X, X, vjp=lambda A, X, G: A.T @ G, at=at, seed=np.ones((2, 3)))
    assert md.check_vjp(A @ X, X, vjp=lambda A, X, G: A.T @ G, at=at)  # a random seed
    assert not md.check_vjp(A @ X, X, vjp=lambda A, X, G: A @ G, at=at)


# ---- 5. modes and located entries ------------------------------------------------------------------------------------
def test_entries_mode_compares_every_entry() -> None:
    X = md.matrix("X", 4, 4)
    r = md.check(md.logdet(X), X, grad=inv_T, mode="entries", dps=30)
    assert r and len(r["X"].comparisons) == 16 and r["X"].comparisons[5].label == "X[1, 1]"
    bad = md.check(md.logdet(X), X, grad=one_entry_off(1e-9, 2, 1), mode="entries", dps=30)
    assert not bad and [c.label for c in bad["X"].comparisons if not c.ok] == ["X[2, 1]"]
    assert bad["X"].worst_entry.index == (2, 1)


def test_bisection_reports_analytic_numeric_and_digits_of_the_worst_entry() -> None:
    X = md.matrix("X", 6, 6)
    r = md.check(md.logdet(X), X, grad=one_entry_off(1e-3, 4, 2), dps=30)
    e = r["X"].worst_entry
    X0 = r_values = None  # noqa: F841
    assert e.index == (4, 2) and e.analytic == pytest.approx(e.numeric * (1 + 1e-3), rel=1e-9)
    assert e.rel_err == pytest.approx(1e-3, rel=1e-6) and 2.5 < e.digits < 3.5


# ---- 6. kinks --------------------------------------------------------------------------------------------------------
def test_relu_at_zero_is_a_kink_not_a_failure_unless_strict() -> None:
    x = md.vector("x", "n")
    f = md.sum(md.relu(x))
    at = {"x": [0.0, 1.0, -2.0]}
    step = lambda x: (x > 0).astype(float)  # noqa: E731  torch's convention: relu'(0) = 0
    r = md.check(f, x, grad=step, at=at)
    # every random direction crosses the kink, so the kink is settled entry by entry: one entry, x[0], is at it
    assert r and r.kinks == 1 and "kink" in str(r)
    assert not md.check(f, x, grad=step, at=at, strict=True)
    e = md.check(f, x, grad=step, at=at, mode="entries")
    assert e and [c.kind for c in e["x"].comparisons] == ["kink", "smooth", "smooth"]
    assert e["x"].comparisons[0].left == 0 and e["x"].comparisons[0].right == 1
    # at a kink entry there is no single derivative to compare (several relu units at 0 along one line have no
    # subgradient between the one-sided values): a value outside [left, right] is a kink too, a failure when strict;
    # the smooth entries are still checked
    outside = lambda x: (x > 0) + 2.0 * (x == 0)  # noqa: E731
    assert md.check(f, x, grad=outside, at=at, mode="entries").kinks == 1
    assert not md.check(f, x, grad=outside, at=at, mode="entries", strict=True)
    assert not md.check(f, x, grad=lambda x: (x > 0) * 1.001, at=at, mode="entries")


def test_abs_at_zero_and_a_smooth_point_nearby() -> None:
    x = md.vector("x", 2)
    f = md.sum(md.abs(x))
    assert md.check(f, x, grad=np.sign, at={"x": [0.0, 0.5]}).kinks == 1  # entry by entry: x[0] is the kink
    assert md.check(f, x, grad=np.sign, at={"x": [0.25, 0.5]}).kinks == 0


# ---- 3 and 7. gradcheck on numpy functions; the reference's sanity ----------------------------------------------------
def test_gradcheck_uses_mpmath_when_the_function_computes_on_mpmath_arrays() -> None:
    X0 = np.random.default_rng(0).standard_normal((4, 4))
    f = lambda X: (X @ X).sum()  # noqa: E731   d/dX Σ(XX) = 𝟏𝟏ᵀXᵀ + Xᵀ𝟏𝟏ᵀ
    g = lambda X: np.ones((4, 4)) @ X.T + X.T @ np.ones((4, 4))  # noqa: E731
    r = md.gradcheck(f, (X0,), grad=g)
    assert r and r.reference_kind == "mpmath" and "checked against dps=50" in r.reference
    assert not md.gradcheck(f, (X0,), grad=lambda X: 2 * X.T)


def test_gradcheck_falls_back_to_float64_richardson_for_numpy_linalg() -> None:
    X0 = np.random.default_rng(1).standard_normal((5, 5)) + 3 * np.eye(5)
    r = md.gradcheck(lambda X: np.linalg.slogdet(X)[1], (X0,), grad=inv_T)
    assert r and r.reference_kind == "float64" and r.reference_digits >= 9
    assert "does not compute with mpmath numbers" in str(r)
    assert not md.gradcheck(lambda X: np.linalg.slogdet(X)[1], (X0,), grad=one_entry_off(1e-6, 1, 2))


def test_a_function_that_ignores_the_working_precision_is_detected() -> None:
    def f(x: np.ndarray) -> object:  # rounds to float64 inside, but returns an mpmath number
        return mpmath.mpf(float(x[0])) ** 2 + x[1] if x.dtype == object else x[0] ** 2 + x[1]
    r = md.gradcheck(f, (np.array([1.5, 2.0]),), grad=lambda x: np.array([2 * x[0], 1.0]))
    assert r and r.reference_kind == "float64"
    assert "ignores the working precision" in str(r)


def test_the_reference_error_is_estimated_at_dps_and_dps_plus_20() -> None:
    x0 = np.array([0.3, -0.7, 1.1])
    f = lambda x: sum(mpmath.exp(v) if isinstance(v, mpmath.mpf) else np.exp(v) for v in x)  # noqa: E731
    r = md.gradcheck(f, (x0,), grad=np.exp, dps=25)
    assert r and r.reference_kind == "mpmath" and r.reference_digits >= 24


def test_gradcheck_of_a_matrix_valued_function_uses_a_random_seed_and_a_vjp() -> None:
    A0 = np.random.default_rng(2).standard_normal((3, 3))
    r = md.gradcheck(lambda A: A @ A, (A0,), grad=lambda A, S: S @ A.T + A.T @ S)
    assert r and "random seed" in str(r)
    assert not md.gradcheck(lambda A: A @ A, (A0,), grad=lambda A, S: 2 * S @ A)


def test_gradcheck_errors() -> None:
    with pytest.raises(md.ArgumentError, match="give grad="):
        md.gradcheck(lambda x: x.sum(), (np.ones(3),))
    with pytest.raises(md.ArgumentError, match="must be callable"):
        md.gradcheck(3, (np.ones(3),))
    with pytest.raises(md.ArgumentError, match="no input is a float array"):
        md.gradcheck(lambda s: 1.0, ("text",), grad=lambda s: 0)
    with pytest.raises(md.CheckError, match="calling <lambda> failed: KeyError"):
        md.gradcheck(lambda x: {}["k"], (np.ones(3),), grad=lambda x: x)


# ---- 8. md.testing ---------------------------------------------------------------------------------------------------
def test_testing_assertions_raise_assertion_error_with_the_report() -> None:
    X = md.matrix("X", 4, 4)
    md.testing.assert_grad_correct(md.logdet(X), X, grad=inv_T)
    md.testing.assert_grad_correct(md.logdet(X), X)  # matderiv's own formula
    md.testing.assert_vjp_correct(md.inv(X), X, vjp=lambda X, S: -inv_T(X) @ S @ inv_T(X))
    md.testing.assert_gradcheck(lambda X: (X * X).sum(), (np.eye(3),), grad=lambda X: 2 * X)
    with pytest.raises(AssertionError, match="FAILED: the gradient of logdet"):
        md.testing.assert_grad_correct(md.logdet(X), X, grad=np.linalg.inv)
    with pytest.raises(AssertionError, match="worst entry"):
        md.testing.assert_vjp_correct(md.inv(X), X, vjp=lambda X, S: -np.linalg.inv(X) @ S @ np.linalg.inv(X))


def test_importing_matderiv_does_not_import_torch() -> None:
    import subprocess
    import sys
    code = "import sys, matderiv; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_kink_does_not_hide_an_error_in_another_entry() -> None:
    """Every random direction crosses the kink at x[0] = 0; the wrong entry x[1] must still be found (entrywise)."""
    x0 = np.array([0.0, 1.0, -2.0, 0.0, 0.5])
    xs = md.vector("x", 5)
    f = md.sum(md.relu(xs))
    good = lambda x: (np.asarray(x) > 0).astype(float)  # noqa: E731  relu' = step, 0 at the kink (torch's)
    bad = lambda x: good(x) * np.array([1.0, 1.1, 1.0, 1.0, 1.0])  # noqa: E731  10 % off at x[1]
    assert md.check(f, xs, grad=good, at={"x": x0})
    report = md.check(f, xs, grad=bad, at={"x": x0})
    assert not report and "x[1]" in str(report)
