"""Second review round of issue 9: false passes and messages of md.check / md.gradcheck (references: hand-derived
gradients; the wrong ones differ from them by a known factor)."""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md


# ---- F3: complex values are refused, not cast -------------------------------------------------------------------
def test_complex_gradient_refused() -> None:
    X = md.matrix("X", 3, 3)
    with pytest.raises(md.ArgumentError, match="complex"):
        md.check(md.logdet(X), X, grad=lambda X: np.linalg.inv(X).T + 1e-3j)
    with pytest.raises(md.ArgumentError, match="complex"):
        md.check(md.logdet(X), X, grad=lambda X: np.linalg.inv(X).T + 0j)


def test_gradcheck_complex_output_and_grad_refused() -> None:
    with pytest.raises(md.ArgumentError, match="complex"):
        md.gradcheck(lambda x: np.sum(x * x) + 1j, (np.ones(3),), grad=lambda x: 2 * x)
    with pytest.raises(md.ArgumentError, match="complex"):
        md.gradcheck(lambda x: np.sum(x * x), (np.ones(3),), grad=lambda x: 2 * x + 1j)
    with pytest.raises(md.ArgumentError, match="complex"):
        md.gradcheck(lambda x: np.sum(np.abs(x) ** 2), (np.ones(3, dtype=complex),), grad=lambda x: 2 * x)


# ---- F4: one direction scale for md.check and md.gradcheck -----------------------------------------------------------
@pytest.mark.parametrize("i", range(4))
def test_badly_scaled_input_check_catches_one_percent(i: int) -> None:
    x0 = np.array([1e-8, 1e8, 3.0, 2e-8])
    X = md.vector("x", 4)
    m = np.ones(4)
    m[i] = 1.01
    assert not md.check(md.sum(md.log(X)), X, grad=lambda x: m / x, at={"x": x0})
    assert md.check(md.sum(md.log(X)), X, grad=lambda x: 1 / x, at={"x": x0})
    assert not md.gradcheck(lambda x: np.sum(np.log(x)), (x0,), grad=lambda x: m / x)


# ---- E: messages ----------------------------------------------------------------------------------------------------
def test_messages() -> None:
    X = md.matrix("X", 3, 3)
    with pytest.raises(md.ArgumentError, match="returned None"):
        md.check(md.logdet(X), X, grad=lambda X: None)
    with pytest.raises(md.ShapeError, match=r"\(9,\)"):
        md.check(md.logdet(X), X, grad=lambda X: np.linalg.inv(X).T.ravel())
    with pytest.raises(md.CheckError, match="returned None"):
        md.gradcheck(lambda x: None, (np.ones(2),), grad=lambda x: x)
    with pytest.raises(md.ArgumentError, match=r"point has a non-finite entry: input 'x'\[0\] is nan"):
        md.gradcheck(lambda x: (x ** 2).sum(), (np.array([np.nan, 1.0]),), grad=lambda x: 2 * x)
    with pytest.raises(md.ArgumentError, match="no entries"):
        md.gradcheck(lambda x: x.sum(), (np.ones(0),), grad=lambda x: x)


def test_from_torch_unsupported_layer() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(md.ArgumentError, match="Conv1d is not supported; supported layers: Linear"):
        md.from_torch(torch.nn.Conv1d(1, 1, 3), (5,))


def test_agreement_capped_at_reference_digits() -> None:
    torch = pytest.importorskip("torch")
    x = torch.ones(3, dtype=torch.double, requires_grad=True)
    r = md.gradcheck(lambda x: (x ** 2).sum(), (x * 2,))
    first = str(r).splitlines()[0]
    agree = float(first.split("agree to ≥ ")[1].split(" digits")[0])
    assert r.ok and agree <= r.reference_digits


# ---- F1: a kink entry does not hide errors elsewhere (inputs over 400 entries) ----------------------------------------
def _abs_problem() -> tuple[np.ndarray, np.ndarray]:
    x0 = np.random.default_rng(0).standard_normal(500)
    x0[0] = 0.0
    wrong = np.ones(500)
    wrong[5] = 1 + 1e-3
    return x0, wrong


def test_kink_does_not_hide_error_gradcheck_large() -> None:
    x0, wrong = _abs_problem()
    fmp = lambda x: sum(abs(v) for v in x)  # noqa: E731   d/dx Σ|x| = sign(x) away from 0
    r = md.gradcheck(fmp, (x0,), grad=lambda x: np.sign(x) * wrong)
    assert not r and r["x"].located[0].index == (5,)
    ok = md.gradcheck(fmp, (x0,), grad=np.sign)
    assert ok and ok.kinks >= 1 and ok["x"].kink_entries == ["x[0]"]


def test_kink_does_not_hide_error_check_large() -> None:
    x0, wrong = _abs_problem()
    xv = md.vector("x", 500)
    r = md.check(md.sum(md.abs(xv)), xv, grad=lambda x: np.sign(x) * wrong, at={"x": x0})
    assert not r and r["x"].located[0].index == (5,)
    assert md.check(md.sum(md.abs(xv)), xv, grad=np.sign, at={"x": x0})


# ---- A1: several relu units at 0 along one line are a kink, not a failure ---------------------------------------------
@pytest.mark.parametrize("rows", [10, 30])
def test_relu_zero_row_is_a_kink(rows: int) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    W = torch.randn(20, 10, dtype=torch.double)
    x = torch.randn(rows, 20, dtype=torch.double)
    x[0] = 0
    x.requires_grad_()
    r = md.gradcheck(lambda x: torch.relu(x @ W), (x,))
    assert r and r.kinks >= 1
    # a wrong backward in a non-kink row is still found: the hand-derived VJP of relu(xW), (S ∘ 1[xW > 0]) Wᵀ,
    # with row 3 scaled by 1 + 1e-4
    def vjp(x: np.ndarray, S: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        g = (S * (x @ W.numpy() > 0)) @ W.numpy().T
        g[3] *= 1 + 1e-4
        return g
    bad = md.gradcheck(lambda x: np.maximum(np.asarray(x, dtype=float) @ W.numpy(), 0.0), (x.detach().numpy(),),
                       grad=vjp)
    assert not bad and {e.index[0] for e in bad["x"].located} == {3}


# ---- F2: a float64 reference next to a kink does not pass a wrong gradient ----------------------------------------
@pytest.mark.parametrize("delta", [1e-10, 1e-11, 1e-12, 1e-13])
def test_float64_reference_next_to_a_kink(delta: float) -> None:
    x0 = np.array([0.5, -0.3, 1.2])
    c = x0 + np.array([delta, 0.9, 0.9])
    f = lambda x: float(np.abs(np.asarray(x, float) - c).sum())  # noqa: E731   gradient sign(x - c) = (-1, -1, -1)
    for seed in range(3):
        r = md.gradcheck(f, (x0,), grad=lambda x: np.sign(x - c) * np.array([0.0, 1, 1]), rng=seed)
        # never a smooth pass: the kink within the steps is seen (a kink, or an inconclusive reference)
        assert not r or (r.kinks >= 1 and r.reference_digits <= 6)
        if r:
            assert r["x"].comparisons[0].kind == "kink"


# ---- A2: small inputs are probed on their own scale ----------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e-4, 1e-6, 1e-8, 1e-12])
def test_float64_reference_small_inputs(scale: float) -> None:
    x0 = np.array([0.3, -0.7, 1.1]) * scale
    f = lambda x: float(np.sum(np.sin(np.asarray(x, float)) ** 3))  # noqa: E731
    g = lambda x: 3 * np.sin(x) ** 2 * np.cos(x)  # noqa: E731   d/dx sin³x = 3 sin²x cos x
    r = md.gradcheck(f, (x0,), grad=g)
    assert r and r.reference_kind == "float64" and r.reference_digits >= 8
    assert not md.gradcheck(f, (x0,), grad=lambda x: g(x) * np.array([1, 1 + 1e-4, 1]))


def test_mpmath_reference_tiny_inputs() -> None:
    x0 = np.array([0.3, -0.7, 1.1]) * 1e-150
    r = md.gradcheck(lambda x: np.sum(x * x * x), (x0,), grad=lambda x: 3 * x ** 2)  # d/dx Σx³ = 3x²
    assert r and r.reference_digits >= 25 and "-0" not in str(r)
    bad = md.gradcheck(lambda x: np.sum(x * x * x), (x0,), grad=lambda x: 3 * x ** 2 * np.array([1, 1.001, 1]))
    assert not bad and bad["x"].located[0].index == (1,)


def test_entrywise_settle_says_entries() -> None:
    x = md.vector("x", 3)
    r = md.check(md.sum(md.abs(x)), x, grad=np.sign, at={"x": [0.0, 0.5, -1.0]})
    assert r and r.kinks == 1 and "3 entries agree" in str(r).splitlines()[0]
