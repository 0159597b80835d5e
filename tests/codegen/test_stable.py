"""Numerically stable generated code (issue 8, item 3): every ML loss of the docs and tests, its value and its
gradient, evaluates finite and correct at logits of ±1000.

The references are written by hand in mpmath at 50 digits (the loss and its hand-derived gradient, never
matderiv's own mpmath code); the generated numpy code runs with floating-point overflow, invalid operations and
division by zero raising, and every entry must agree to 1e-12 relative, or, for entries below the smallest normal
float64 (2.2·10⁻³⁰⁸, where float64 has only absolute precision), to absolute 10⁻³²⁰, a few thousand subnormal
spacings: e^{−720} must be 2·10⁻³¹³ and e^{−1000} 0, not 1.2·10⁻³⁰⁸. The printed forms stay textbook: the stable
forms are only in the code.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import mpmath
import numpy as np
import pytest

import matderiv as md

LOGITS = [-1000.0, -40.0, -30.0, -1.0, 0.0, 0.5, 2.0, 30.0, 40.0, 1000.0]
N = len(LOGITS)
SIGNS = [1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0]
ONEHOT = [0.0] * N
ONEHOT[3] = 1.0
TARGETS = [float(i % 2) for i in range(N)]  # binary labels 0, 1, 0, …

n = "n"
z, y, t = md.vector("z", n), md.vector("y", n), md.vector("t", n)
X, w = md.matrix("X", n, "m"), md.vector("w", "m")
W, x, b = md.matrix("W", n, n), md.vector("x", n), md.vector("b", n)
Z, Y = md.matrix("Z", 2, n), md.matrix("Y", 2, n)


# ---- mpmath references (50 digits), by hand ------------------------------------------------------------------------
def _f(v: float) -> Any:
    return mpmath.mpf(v)


def sig(u: Any) -> Any:
    return 1 / (1 + mpmath.exp(-u))


def softplus(u: Any) -> Any:
    return mpmath.log(1 + mpmath.exp(u))


def lse(us: list[Any]) -> Any:
    return mpmath.log(mpmath.fsum(mpmath.exp(u) for u in us))


def smax(us: list[Any]) -> list[Any]:
    s = lse(us)
    return [mpmath.exp(u - s) for u in us]


def _logistic_inputs() -> dict[str, Any]:
    return {"X": np.eye(N), "w": np.array(LOGITS), "y": np.array(SIGNS)}


def _logistic_ref(v: dict[str, Any]) -> tuple[Any, list[Any]]:
    """Σ log(1 + exp(−yᵢ(Xw)ᵢ)); ∂/∂w = −Xᵀ(y ⊙ σ(−y ⊙ Xw)) (X = I here)."""
    m = [_f(a) * _f(c) for a, c in zip(SIGNS, LOGITS)]
    return mpmath.fsum(softplus(-u) for u in m), [-_f(s) * sig(-u) for s, u in zip(SIGNS, m)]


def _mat(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, dtype=float)


Z_ROWS = [LOGITS, [-v for v in LOGITS]]
Y_ROWS = [ONEHOT, ONEHOT[::-1]]


def _multinomial_ref(v: dict[str, Any]) -> tuple[Any, list[Any]]:
    """−Σᵢⱼ Yᵢⱼ log softmax(Zᵢ)ⱼ; ∂/∂Z = softmax(Z, rows) ⊙ (Y𝟏)𝟏ᵀ − Y."""
    val, grad = mpmath.mpf(0), []
    for zr, yr in zip(Z_ROWS, Y_ROWS):
        zs = [_f(a) for a in zr]
        s = lse(zs)
        val -= mpmath.fsum(_f(c) * (u - s) for c, u in zip(yr, zs))
        total = mpmath.fsum(_f(c) for c in yr)
        grad += [total * p - _f(c) for p, c in zip(smax(zs), yr)]
    return val, grad


def _zs() -> list[Any]:
    return [_f(a) for a in LOGITS]


CASES: dict[str, tuple[Callable[[], md.Expr], md.Expr, list[md.Expr], dict[str, Any],
                       Callable[[dict[str, Any]], tuple[Any, list[Any]]]]] = {
    # the four: Σ log(1 + eᶻ), −yᵀ log softmax z, Σ log σ(z), Σ eᶻ/(1 + eᶻ)
    "softplus-spelled": (lambda: md.sum(md.log(1 + md.exp(z))), z, [z], {"z": LOGITS},
                         lambda v: (mpmath.fsum(softplus(u) for u in _zs()), [sig(u) for u in _zs()])),
    "log-softmax": (lambda: -y.T @ md.log(md.softmax(z)), z, [z, y], {"z": LOGITS, "y": ONEHOT},
                    lambda v: (-mpmath.fsum(_f(c) * (u - lse(_zs())) for c, u in zip(ONEHOT, _zs())),
                               [p - _f(c) for p, c in zip(smax(_zs()), ONEHOT)])),
    "log-sigmoid": (lambda: md.sum(md.log(md.sigmoid(z))), z, [z], {"z": LOGITS},
                    lambda v: (-mpmath.fsum(softplus(-u) for u in _zs()), [sig(-u) for u in _zs()])),
    "exp-over-one-plus-exp": (lambda: md.sum(md.exp(z) / (1 + md.exp(z))), z, [z], {"z": LOGITS},
                              lambda v: (mpmath.fsum(sig(u) for u in _zs()), [sig(u) * sig(-u) for u in _zs()])),
    # the logistic loss in MatrixCalculus.org's spelling, matderiv's, and with log σ
    "logistic-mc": (lambda: md.parse("sum(log(exp(-y.*(X*w)) + vector(1)))"), "w", ["X", "w", "y"],
                    _logistic_inputs(), _logistic_ref),
    "logistic-softplus": (lambda: md.sum(md.softplus(-y * (X @ w))), w, [X, w, y], _logistic_inputs(), _logistic_ref),
    "logistic-1+exp": (lambda: md.sum(md.log(1 + md.exp(-y * (X @ w)))), w, [X, w, y], _logistic_inputs(),
                       _logistic_ref),
    "logistic-log-sigmoid": (lambda: -md.sum(md.log(md.sigmoid(y * (X @ w)))), w, [X, w, y], _logistic_inputs(),
                             _logistic_ref),
    # binary cross-entropy, both spellings of log(1 − σ)
    "bce": (lambda: -md.sum(t * md.log(md.sigmoid(z)) + (1 - t) * md.log(1 - md.sigmoid(z))), z, [z, t],
            {"z": LOGITS, "t": TARGETS},
            lambda v: (mpmath.fsum(_f(c) * softplus(-u) + (1 - _f(c)) * softplus(u) for c, u in zip(TARGETS, _zs())),
                       [sig(u) - _f(c) for c, u in zip(TARGETS, _zs())])),
    "bce-sigmoid-of-minus": (lambda: -md.sum(t * md.log(md.sigmoid(z)) + (1 - t) * md.log(md.sigmoid(-z))), z,
                             [z, t], {"z": LOGITS, "t": TARGETS},
                             lambda v: (mpmath.fsum(_f(c) * softplus(-u) + (1 - _f(c)) * softplus(u)
                                                    for c, u in zip(TARGETS, _zs())),
                                        [sig(u) - _f(c) for c, u in zip(TARGETS, _zs())])),
    # docs/identities.md: logsumexp(Wx) − yᵀWx (W = I, x the logits), Σ σ(Wx + b), Σ relu(Wx + b)
    "softmax-regression": (lambda: md.logsumexp(W @ x) - y.T @ W @ x, W, [W, x, y],
                           {"W": np.eye(N), "x": LOGITS, "y": ONEHOT},
                           lambda v: (lse(_zs()) - mpmath.fsum(_f(c) * u for c, u in zip(ONEHOT, _zs())),
                                      [(p - _f(c)) * u2 for p, c in zip(smax(_zs()), ONEHOT) for u2 in _zs()])),
    "sum-sigmoid": (lambda: md.sum(md.sigmoid(W @ x + b)), b, [W, x, b], {"W": np.eye(N), "x": LOGITS, "b": [0.0] * N},
                    lambda v: (mpmath.fsum(sig(u) for u in _zs()), [sig(u) * sig(-u) for u in _zs()])),
    "sum-relu": (lambda: md.sum(md.relu(W @ x + b)), b, [W, x, b], {"W": np.eye(N), "x": LOGITS, "b": [0.0] * N},
                 lambda v: (mpmath.fsum(max(u, 0) for u in _zs()), [mpmath.mpf(1 if u > 0 else 0) for u in _zs()])),
    # the tanh network of docs/identities.md, ‖W₂ tanh(W₁x + b₁) − y‖² (W₁ = W₂ = I, x the logits): tanh′ = sech²
    "tanh-network": (lambda: md.norm2(W @ md.tanh(md.matrix("W1", n, n) @ x + b) - y) ** 2, "W1",
                     [md.matrix("W1", n, n), x, b, W, y],
                     {"W1": np.eye(N), "x": LOGITS, "b": [0.0] * N, "W": np.eye(N), "y": [0.3] * N},
                     lambda v: (mpmath.fsum((mpmath.tanh(u) - mpmath.mpf("0.3")) ** 2 for u in _zs()),
                                [2 * (mpmath.tanh(u) - mpmath.mpf("0.3")) / mpmath.cosh(u) ** 2 * u2
                                 for u in _zs() for u2 in _zs()])),
    # the multinomial loss of tests/ops (rows of logits ±1000)
    "multinomial": (lambda: -md.sum(Y * md.log(md.softmax(Z, 1))), Z, [Z, Y], {"Z": _mat(Z_ROWS), "Y": _mat(Y_ROWS)},
                    _multinomial_ref),
}


def _close(got: Any, want: list[Any], what: str) -> None:
    got = np.atleast_1d(np.asarray(got, dtype=float)).ravel()
    assert got.shape == (len(want),), what
    assert np.all(np.isfinite(got)), f"{what}: not finite: {got}"
    for i, (g, r) in enumerate(zip(got, want)):
        err = abs(mpmath.mpf(float(g)) - r)
        assert err <= mpmath.mpf("1e-12") * abs(r) + mpmath.mpf("1e-320"), \
            f"{what}[{i}]: {g!r} vs {mpmath.nstr(r, 20)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_stable_at_logits_of_1000(name: str) -> None:
    build, wrt, args, inputs, ref = CASES[name]
    with mpmath.workdps(50):
        f = build()
        syms = {s.name: s for s in f.free_symbols}
        params = [syms[a] if isinstance(a, str) else a for a in args]
        wrt = syms[wrt] if isinstance(wrt, str) else wrt
        g = md.grad(f, wrt)
        fn = md.lambdify(params, [f, g])
        values = [np.asarray(inputs[p.name], dtype=float) for p in params]
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            value, grad = fn(*values)
        want_value, want_grad = ref(inputs)
        _close(value, [want_value], f"{name} value")
        _close(np.asarray(grad).reshape(-1), want_grad, f"{name} gradient")


def test_textbook_forms_are_printed() -> None:
    """The stable forms are in the code only: what is printed is what a paper writes."""
    assert str(md.grad(md.sum(md.log(md.sigmoid(z))), z)) == "1 - sigmoid(z)"
    assert "softplus" not in md.latex(md.sum(md.log(1 + md.exp(z))))
    src = md.numpy_code(md.grad(md.sum(md.log(md.sigmoid(z))), z), [z])
    assert "np.exp(np.minimum(-z, 709.0))" in src and "1 - " not in src.splitlines()[-1]  # σ(−z), not 1 − σ(z)


@pytest.mark.parametrize("spelling, stable_call", [
    (lambda: md.sum(md.log(1 + md.exp(z))), "np.logaddexp(0.0, z)"),
    (lambda: md.sum(md.log(md.exp(z) + md.ones(n))), "np.logaddexp(0.0, z)"),
    (lambda: md.sum(md.log(md.sigmoid(z))), "np.logaddexp(0.0, -z)"),
    (lambda: md.log(md.sum(md.exp(z))), ".max()"),
    (lambda: md.exp(z) / md.sum(md.exp(z)), ".max()"),
    (lambda: md.sigmoid(z), "np.exp(np.minimum(z, 709.0))"),
    (lambda: md.grad(md.sum(md.tanh(z)), z), "np.exp(-2 * np.abs(z))"),
])
def test_stable_forms_in_the_code(spelling: Callable[[], md.Expr], stable_call: str) -> None:
    assert stable_call in md.numpy_code(spelling(), [z])


def test_sigmoid_is_accurate_in_both_tails() -> None:
    """σ(−30) = 9.357622968840175e-14: relative error below 1e-14 (0.5 + 0.5 tanh(−15) had 2e-4), wherever σ is a
    normal float64."""
    fn = md.lambdify([z], md.sigmoid(z))
    v = np.array([-700.0, -30.0, -5.0, 0.0, 5.0, 30.0, 700.0])
    with mpmath.workdps(50):
        want = [1 / (1 + mpmath.exp(-mpmath.mpf(a))) for a in v]
    _close(fn(v), want, "sigmoid")
    got = fn(v)
    for g, r in zip(got, want):
        assert abs(mpmath.mpf(float(g)) / r - 1) < 1e-14


def test_sigmoid_is_exact_in_the_deep_tail() -> None:
    """Below x = −709, σ(x) = e^x (1 − e^x + ⋯) is e^x in float64: e^{−720} = 2.0·10⁻³¹³ (a subnormal), 0 below
    x = −745.2; the capped 1/(1 + e^{709}) gave 1.2·10⁻³⁰⁸ everywhere there, so log σ(−1000) was −709."""
    v = np.array([-1000.0, -746.0, -745.0, -740.0, -720.0, -709.5, -708.0, -700.0, 37.0, 709.5, 1000.0])
    with mpmath.workdps(50):
        want = [1 / (1 + mpmath.exp(-mpmath.mpf(a))) for a in v]
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            got = md.lambdify([z], md.sigmoid(z))(v)
        for g, r in zip(got, want):  # float64's nearest value, to a few subnormal spacings (2⁻¹⁰⁷⁴ = 4.9·10⁻³²⁴)
            assert abs(mpmath.mpf(float(g)) - r) <= mpmath.mpf("1e-14") * r + 20 * mpmath.mpf(2) ** -1074, (g, r)
    assert got[0] == 0 and got[1] == 0 and 0 < got[4] < 1e-300


def test_one_matcher_for_the_one_minus_rules() -> None:
    """The stable code's 1 + f(u) and 1 − f(u) rules use the simplifier's matchers (one copy of each)."""
    st, S = importlib.import_module("matderiv.codegen.stable"), importlib.import_module("matderiv.simplify")
    assert st.is_fn is S.is_fn and st.one_minus is S.one_minus and st.one_plus is S.one_plus
    assert S.one_minus(md.ones(n) - md.sigmoid(z), lambda t: S.is_fn(t, "sigmoid")) is None  # 1 a number here
    assert S.one_minus(md.ones(n) - md.sigmoid(z), lambda t: S.is_fn(t, "sigmoid"), ones=True) == (md.sigmoid(z), [])
    assert S.one_plus(md.exp(z) + 1, "exp") == z and S.one_plus(md.exp(z) + 2, "exp") is None


def _log_sigmoid_ref(us: list[float], k: int = 1) -> Any:
    """Σ k log σ(u) = −k Σ log(1 + e^{−u}), by hand in mpmath."""
    return -k * mpmath.fsum(mpmath.log(1 + mpmath.exp(-mpmath.mpf(u))) for u in us)


@pytest.mark.parametrize("text, sign, k", [
    ("sum(log(1./(1+exp(-z))))", 1, 1),   # (1 + e^{−z})^{−1} = σ(z), not σ(z)^1, then log σ = −softplus(−z)
    ("sum(log(1./(1+exp(z))))", -1, 1),   # σ(−z)
    ("sum(log(1 ./ (exp(-z) + vector(1))))", 1, 1),
    ("sum(log(sigmoid(z).^2))", 1, 2),   # log σ(z)² = 2 log σ(z)
    ("sum(log(sigmoid(z).^3))", 1, 3),
    ("sum(log((1 - sigmoid(z)).^2))", -1, 2),  # 1 − σ(z) = σ(−z)
    ("sum(-log((exp(z)+1)./exp(z)))", 1, 1),  # (e^z + 1)/e^z = 1 + e^{−z}: −softplus(−z)
])
def test_spelled_log_sigmoid_is_finite_and_right(text: str, sign: int, k: int) -> None:
    """The new-user findings: at z = [1000, −1000, 0.5, −3] these gave −712.5 (not −1003.5), −709 and −inf."""
    v = [1000.0, -1000.0, 0.5, -3.0]
    f = md.parse(text)
    (zs,) = f.free_symbols
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = md.lambdify([zs], f)(np.array(v))  # as parsed, unsimplified
        got_simplified = md.lambdify([zs], md.simplify(f))(np.array(v))
    with mpmath.workdps(50):
        want = _log_sigmoid_ref([sign * u for u in v], k)
        _close(got, [want], text)
        _close(got_simplified, [want], text + " (simplified)")


def test_log_sigmoid_elementwise_at_1000() -> None:
    """log(1/(1 + e^{z})) at z = [1000, −1000]: −1000 and −e^{−1000} (float64: −0), not −709."""
    f = md.parse("log(1./(1+exp(z)))")
    (zs,) = f.free_symbols
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = md.lambdify([zs], f)(np.array([1000.0, -1000.0]))
    with mpmath.workdps(50):
        _close(got, [-softplus(_f(1000.0)), -softplus(_f(-1000.0))], "log σ(−z)")
