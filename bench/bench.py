"""Benchmark: matderiv's generated numpy evaluators against hand-written numpy, and derivation time against SymPy.

For each expression and size n the script
  1. derives the gradient (or VJP) with matderiv and compiles it with ``md.lambdify``;
  2. checks that the generated function and the obvious hand-written numpy agree (``np.allclose``) — a benchmark
     of a wrong result is worthless — then times both (warm-up first, interleaved samples, median per call);
  3. times the derivation ``md.grad`` / ``md.vjp`` (simplification included) with fresh symbol names on every
     repeat, so that no cache flatters it, and again warm (the same expression derived again);
  4. times SymPy's ``expr.diff(X)`` on the same expression written with ``MatrixSymbol`` (fresh names too) and
     checks SymPy's answer numerically at a small size: a failure or a wrong answer is reported, not timed;
  5. times jax and torch when they are importable ("n/a" otherwise).

Targets (issues 2 and 8): generated ≤ 1.1× hand-written numpy; derivation median ≤ 5 ms per expression.

Usage: python bench/bench.py [--sizes 500 1000] [--repeat N] [--quick]
"""
from __future__ import annotations

import argparse
import ctypes
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy

import matderiv as md

TARGET_RATIO = 1.1
TARGET_DERIVE_MS = 5.0
Arrays = dict[str, Any]


# ---- the benchmark cases -------------------------------------------------------------------------------------
@dataclass
class Case:
    """One row group: a matderiv expression, its hand-written numpy gradient, and its SymPy form."""

    label: str
    sizes: str                                      # how the shapes depend on n, for the notes
    build: Callable[[str], tuple[md.Expr, md.Expr, md.Expr | None, list[md.Expr]]]  # tag -> f, wrt, seed, args
    inputs: Callable[[int, np.random.Generator], Arrays]   # values in natural numpy shapes, in args order
    hand: Callable[..., np.ndarray]                 # the obvious hand-written numpy gradient
    sympy_build: Callable[[str], tuple[Any, Any]] | None   # tag -> (SymPy expression, wrt MatrixSymbol)


def _sym_dims() -> tuple[sympy.Symbol, ...]:
    return sympy.symbols("n m k h", integer=True, positive=True)


# aᵀXb, w.r.t. X: a bᵀ
def build_atxb(t: str) -> tuple[md.Expr, md.Expr, None, list[md.Expr]]:
    a, X, b = md.vector(f"a{t}", "n"), md.matrix(f"X{t}", "n", "n"), md.vector(f"b{t}", "n")
    return a.T @ X @ b, X, None, [a, X, b]


def inputs_atxb(n: int, rng: np.random.Generator) -> Arrays:
    return {"a": rng.standard_normal(n), "X": rng.standard_normal((n, n)), "b": rng.standard_normal(n)}


def hand_atxb(a: np.ndarray, X: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.outer(a, b)


def sympy_atxb(t: str) -> tuple[Any, Any]:
    n = _sym_dims()[0]
    a, X, b = (sympy.MatrixSymbol(f"a{t}", n, 1), sympy.MatrixSymbol(f"X{t}", n, n),
               sympy.MatrixSymbol(f"b{t}", n, 1))
    return a.T * X * b, X


# tr(AXB), w.r.t. X: Aᵀ Bᵀ
def build_trace(t: str) -> tuple[md.Expr, md.Expr, None, list[md.Expr]]:
    A, X, B = (md.matrix(f"{s}{t}", "n", "n") for s in "AXB")
    return md.trace(A @ X @ B), X, None, [A, X, B]


def inputs_square3(n: int, rng: np.random.Generator) -> Arrays:
    return {s: rng.standard_normal((n, n)) for s in "AXB"}


def hand_trace(A: np.ndarray, X: np.ndarray, B: np.ndarray) -> np.ndarray:
    return A.T @ B.T


def sympy_trace(t: str) -> tuple[Any, Any]:
    n = _sym_dims()[0]
    A, X, B = (sympy.MatrixSymbol(f"{s}{t}", n, n) for s in "AXB")
    return sympy.Trace(A * X * B), X


# log det X, w.r.t. X: X⁻ᵀ
def build_logdet(t: str) -> tuple[md.Expr, md.Expr, None, list[md.Expr]]:
    X = md.matrix(f"X{t}", "n", "n")
    return md.logdet(X), X, None, [X]


def inputs_logdet(n: int, rng: np.random.Generator) -> Arrays:
    # not symmetric; eigenvalues in a disc of radius ≈ 1 around 2: det > 0 and well-conditioned
    return {"X": 2 * np.eye(n) + rng.standard_normal((n, n)) / np.sqrt(n)}


def hand_logdet(X: np.ndarray) -> np.ndarray:
    return np.linalg.inv(X).T


def sympy_logdet(t: str) -> tuple[Any, Any]:
    n = _sym_dims()[0]
    X = sympy.MatrixSymbol(f"X{t}", n, n)
    return sympy.log(sympy.Determinant(X)), X


# ‖AX − B‖²_F, w.r.t. X: 2 Aᵀ(AX − B)
def build_lsq(t: str) -> tuple[md.Expr, md.Expr, None, list[md.Expr]]:
    A, X, B = (md.matrix(f"{s}{t}", "n", "n") for s in "AXB")
    return md.norm2(A @ X - B) ** 2, X, None, [A, X, B]


def hand_lsq(A: np.ndarray, X: np.ndarray, B: np.ndarray) -> np.ndarray:
    return 2 * A.T @ (A @ X - B)


def sympy_lsq(t: str) -> tuple[Any, Any]:
    n = _sym_dims()[0]
    A, X, B = (sympy.MatrixSymbol(f"{s}{t}", n, n) for s in "AXB")
    R = A * X - B
    return sympy.Trace(R.T * R), X


# logistic loss Σ log(1 + exp(−y ⊙ (Xw))), w.r.t. w (X is n×m, m = n/2): −Xᵀ(y ⊙ σ(−y ⊙ Xw))
def build_logistic(t: str) -> tuple[md.Expr, md.Expr, None, list[md.Expr]]:
    X, w, y = md.matrix(f"X{t}", "n", "m"), md.vector(f"w{t}", "m"), md.vector(f"y{t}", "n")
    return md.sum(md.log(1 + md.exp(-y * (X @ w)))), w, None, [X, w, y]


def inputs_logistic(n: int, rng: np.random.Generator) -> Arrays:
    m = n // 2
    return {"X": rng.standard_normal((n, m)) / np.sqrt(m), "w": rng.standard_normal(m),
            "y": rng.choice([-1.0, 1.0], size=n)}


def hand_logistic(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -(X.T @ (y / (1 + np.exp(y * (X @ w)))))


def sympy_logistic(t: str) -> tuple[Any, Any]:
    n, m = _sym_dims()[:2]
    X, w, y = (sympy.MatrixSymbol(f"X{t}", n, m), sympy.MatrixSymbol(f"w{t}", m, 1),
               sympy.MatrixSymbol(f"y{t}", n, 1))
    u = -sympy.HadamardProduct(y, X * w)
    return sympy.OneMatrix(1, n) * (sympy.OneMatrix(n, 1) + u.applyfunc(sympy.exp)).applyfunc(sympy.log), w


# MLP: Y = σ(relu(relu(X W1ᵀ + 𝟏b1ᵀ) W2ᵀ + 𝟏b2ᵀ) W3ᵀ + b3), X n×k, W1 h×k, W2 h×h, W3 1×h, k = h = n/2;
# the VJP of Y w.r.t. W1 with a ones seed (Linear–ReLU–Linear–ReLU–Linear–Sigmoid, as in the seed's network)
def build_mlp(t: str) -> tuple[md.Expr, md.Expr, md.Expr, list[md.Expr]]:
    X, W1, b1 = md.matrix(f"X{t}", "n", "k"), md.matrix(f"W1{t}", "h", "k"), md.vector(f"b1{t}", "h")
    W2, b2 = md.matrix(f"W2{t}", "h", "h"), md.vector(f"b2{t}", "h")
    W3, b3 = md.matrix(f"W3{t}", 1, "h"), md.scalar(f"b3{t}")
    H1 = md.relu(X @ W1.T + b1.T)
    H2 = md.relu(H1 @ W2.T + b2.T)
    Y = md.sigmoid(H2 @ W3.T + b3)
    return Y, W1, md.ones_like(Y), [X, W1, b1, W2, b2, W3, b3]


def inputs_mlp(n: int, rng: np.random.Generator) -> Arrays:
    k = h = n // 2
    return {"X": rng.standard_normal((n, k)), "W1": rng.standard_normal((h, k)) / np.sqrt(k),
            "b1": 0.1 * rng.standard_normal(h), "W2": rng.standard_normal((h, h)) / np.sqrt(h),
            "b2": 0.1 * rng.standard_normal(h), "W3": rng.standard_normal((1, h)) / np.sqrt(h),
            "b3": float(rng.standard_normal())}


def hand_mlp(X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, W3: np.ndarray,
             b3: float) -> np.ndarray:
    Z1 = X @ W1.T + b1
    H1 = np.maximum(Z1, 0)
    Z2 = H1 @ W2.T + b2
    H2 = np.maximum(Z2, 0)
    Y = 1 / (1 + np.exp(-(H2 @ W3.T + b3)))
    dZ3 = Y * (1 - Y)                   # ones seed times σ'
    dZ2 = (dZ3 @ W3) * (Z2 > 0)
    dZ1 = (dZ2 @ W2) * (Z1 > 0)
    return dZ1.T @ X


def sympy_mlp(t: str) -> tuple[Any, Any]:
    n, _, k, h = _sym_dims()
    X, W1, b1 = (sympy.MatrixSymbol(f"X{t}", n, k), sympy.MatrixSymbol(f"W1{t}", h, k),
                 sympy.MatrixSymbol(f"b1{t}", h, 1))
    W2, b2 = sympy.MatrixSymbol(f"W2{t}", h, h), sympy.MatrixSymbol(f"b2{t}", h, 1)
    W3, b3 = sympy.MatrixSymbol(f"W3{t}", 1, h), sympy.MatrixSymbol(f"b3{t}", 1, 1)
    x = sympy.Symbol("x")
    relu = sympy.Lambda(x, sympy.Max(x, 0))
    sigmoid = sympy.Lambda(x, 1 / (1 + sympy.exp(-x)))
    ones = sympy.OneMatrix(n, 1)
    H1 = (X * W1.T + ones * b1.T).applyfunc(relu)
    H2 = (H1 * W2.T + ones * b2.T).applyfunc(relu)
    Y = (H2 * W3.T + ones * b3).applyfunc(sigmoid)
    return sympy.OneMatrix(1, n) * Y, W1   # ⟨𝟏, Y⟩: its gradient is the VJP with a ones seed


# GP negative log marginal likelihood ½ log det K + ½ yᵀK⁻¹y, w.r.t. K: ½(K⁻ᵀ − K⁻ᵀyyᵀK⁻ᵀ) (K SPD, n×n)
def build_gp(t: str) -> tuple[md.Expr, md.Expr, None, list[md.Expr]]:
    K, y = md.matrix(f"K{t}", "n", "n"), md.vector(f"y{t}", "n")
    return md.logdet(K) / 2 + y.T @ md.inv(K) @ y / 2, K, None, [K, y]


def inputs_gp(n: int, rng: np.random.Generator) -> Arrays:
    A = rng.standard_normal((n, n))
    return {"K": A @ A.T / n + np.eye(n), "y": rng.standard_normal(n)}


def hand_gp(K: np.ndarray, y: np.ndarray) -> np.ndarray:
    Ki = np.linalg.inv(K)
    a = Ki @ y
    return 0.5 * (Ki - np.outer(a, a))


def sympy_gp(t: str) -> tuple[Any, Any]:
    n = _sym_dims()[0]
    K, y = sympy.MatrixSymbol(f"K{t}", n, n), sympy.MatrixSymbol(f"y{t}", n, 1)
    return sympy.log(sympy.Determinant(K)) / 2 + (y.T * K.I * y)[0, 0] / 2, K


# softmax regression −Σ Y ⊙ log softmax(XW) (row by row), w.r.t. W: Xᵀ(softmax(XW) ⊙ (Y𝟏)𝟏ᵀ − Y);
# X n×m, W m×k, Y n×k one-hot (m = n/2, k = n/10)
def build_softmax_reg(t: str) -> tuple[md.Expr, md.Expr, None, list[md.Expr]]:
    X, W, Y = md.matrix(f"X{t}", "n", "m"), md.matrix(f"W{t}", "m", "k"), md.matrix(f"Y{t}", "n", "k")
    return -md.sum(Y * md.log(md.softmax(X @ W, 1))), W, None, [X, W, Y]


def inputs_softmax_reg(n: int, rng: np.random.Generator) -> Arrays:
    m, k = n // 2, max(n // 10, 2)
    return {"X": rng.standard_normal((n, m)), "W": rng.standard_normal((m, k)) / np.sqrt(m),
            "Y": np.eye(k)[rng.integers(0, k, n)]}


def hand_softmax_reg(X: np.ndarray, W: np.ndarray, Y: np.ndarray) -> np.ndarray:
    Z = X @ W
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return X.T @ (E / E.sum(axis=1, keepdims=True) - Y)


# attention softmax(Q Kᵀ) V (row by row), its VJP w.r.t. Q with the seed G: (S ⊙ (GVᵀ − ((S ⊙ GVᵀ)𝟏)𝟏ᵀ)) K;
# Q, K, V, G n×h (h = n/8)
def build_attention(t: str) -> tuple[md.Expr, md.Expr, md.Expr, list[md.Expr]]:
    Q, K, V, G = (md.matrix(f"{s}{t}", "n", "h") for s in "QKVG")
    return md.softmax(Q @ K.T, 1) @ V, Q, G, [Q, K, V, G]


def inputs_attention(n: int, rng: np.random.Generator) -> Arrays:
    h = max(n // 8, 2)
    return {s: rng.standard_normal((n, h)) / (np.sqrt(np.sqrt(h)) if s in "QK" else 1) for s in "QKVG"}


def hand_attention(Q: np.ndarray, K: np.ndarray, V: np.ndarray, G: np.ndarray) -> np.ndarray:
    Z = Q @ K.T
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    S = E / E.sum(axis=1, keepdims=True)
    dS = G @ V.T
    return (S * (dS - (S * dS).sum(axis=1, keepdims=True))) @ K


CASES = [
    Case("aᵀXb (∂/∂X)", "a, b: n; X: n×n", build_atxb, inputs_atxb, hand_atxb, sympy_atxb),
    Case("tr(AXB) (∂/∂X)", "A, X, B: n×n", build_trace, inputs_square3, hand_trace, sympy_trace),
    Case("log det X (∂/∂X)", "X: n×n", build_logdet, inputs_logdet, hand_logdet, sympy_logdet),
    Case("‖AX−B‖²_F (∂/∂X)", "A, X, B: n×n", build_lsq, inputs_square3, hand_lsq, sympy_lsq),
    Case("Σ log(1+exp(−y⊙Xw)) (∂/∂w)", "X: n×n/2, w: n/2, y: n (±1)", build_logistic, inputs_logistic,
         hand_logistic, sympy_logistic),
    Case("MLP VJP (∂/∂W1, ones seed)", "X: n×n/2, W1, W2: n/2×n/2, W3: 1×n/2 (Linear–ReLU–Linear–ReLU–"
         "Linear–Sigmoid)", build_mlp, inputs_mlp, hand_mlp, sympy_mlp),
    Case("GP ½ log det K + ½ yᵀK⁻¹y (∂/∂K)", "K: n×n (SPD), y: n", build_gp, inputs_gp, hand_gp, sympy_gp),
    Case("softmax regression (∂/∂W)", "X: n×n/2, W: n/2×n/10, Y: n×n/10 (one-hot)", build_softmax_reg,
         inputs_softmax_reg, hand_softmax_reg, None),
    Case("attention softmax(QKᵀ)V VJP (∂/∂Q)", "Q, K, V, G: n×n/8", build_attention, inputs_attention,
         hand_attention, None),
]


# ---- timing ----------------------------------------------------------------------------------------------------
def _calls_per_sample(fn: Callable[[], object], min_time: float) -> int:
    """Calls per sample so that one sample lasts at least ``min_time`` seconds (as timeit's autorange), after
    a warm-up call."""
    fn()
    number = 1
    while True:
        for k in (1, 2, 5):
            if _sample(fn, number * k) * number * k >= min_time:
                return number * k
        number *= 10


def _sample(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def time_many(fns: list[Callable[[], object]], repeat: int, min_time: float) -> tuple[list[float], float]:
    """Median seconds per call of each function, and the median ratio fns[-1]/fns[0] over paired samples.

    Samples are interleaved (ABBA order) so that load from other processes and clock drift hit every function
    alike; the ratio of each pair of neighbouring samples is the robust comparison on a busy machine.
    """
    for f in fns[1:]:
        f()  # warm-up
    number = _calls_per_sample(fns[0], min_time)  # the same loop for every function
    samples: list[list[float]] = [[] for _ in fns]
    for r in range(repeat):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            samples[i].append(_sample(fns[i], number))
    ratio = statistics.median(b / a for a, b in zip(samples[0], samples[-1]))
    return [statistics.median(s) for s in samples], ratio


def time_once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---- derivation: matderiv and SymPy ----------------------------------------------------------------------------
_FRESH = [0]


def fresh_tag() -> str:
    _FRESH[0] += 1
    return f"_{_FRESH[0]}"


def derive(f: md.Expr, wrt: md.Expr, seed: md.Expr | None) -> md.Expr:
    return md.grad(f, wrt) if seed is None else md.vjp(f, wrt, seed)  # type: ignore[return-value]


def time_derivation(case: Case, repeat: int) -> tuple[float, float]:
    """(fresh, warm) median ms of md.grad/md.vjp, simplification included."""
    f, wrt, seed, _ = case.build(fresh_tag())
    derive(f, wrt, seed)                 # warm-up: imports, SymPy derivatives of elementwise functions
    fresh = []
    for _ in range(repeat):
        f, wrt, seed, _ = case.build(fresh_tag())
        fresh.append(time_once(lambda: derive(f, wrt, seed)))
    warm = [time_once(lambda: derive(f, wrt, seed)) for _ in range(repeat)]
    return statistics.median(fresh) * 1e3, statistics.median(warm) * 1e3


def cold_derivation_ms() -> str:
    """The first derivation in a new process (the MLP VJP): it includes SymPy differentiating relu and sigmoid,
    which matderiv then caches; also the time of ``import matderiv``."""
    code = ("import sys, time; t0 = time.perf_counter(); import matderiv as md; t1 = time.perf_counter(); "
            f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import bench; "
            "f, w, seed, _ = bench.build_mlp(''); t2 = time.perf_counter(); bench.derive(f, w, seed); "
            "t3 = time.perf_counter(); print(f'{(t3 - t2) * 1e3:.1f} {(t1 - t0) * 1e3:.0f}')")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
        first, imp = out.stdout.split()
    except (subprocess.SubprocessError, ValueError, OSError) as exc:
        return f"not measured ({type(exc).__name__})"
    return f"{first} ms for the MLP VJP (import matderiv: {imp} ms)"


def _sympy_value(e: Any, values: dict[Any, np.ndarray], dims: dict[Any, int]) -> np.ndarray:
    """A SymPy matrix expression evaluated at concrete matrices (small sizes only)."""
    e = e.subs(dims)
    rep = {s.subs(dims): sympy.ImmutableMatrix(v.reshape(v.shape[0], -1) if v.ndim else [[v]])
           for s, v in values.items()}
    r = e.xreplace(rep).doit()
    r = r.as_explicit() if hasattr(r, "as_explicit") else r
    return np.array(sympy.Matrix(r).evalf(), dtype=float)


def sympy_derivation(case: Case, repeat: int) -> str:
    """Median ms of SymPy's ``.diff`` (fresh names), or why there is no time: error, wrong result."""
    if case.sympy_build is None:
        return "n/a"
    tag = fresh_tag()
    expr, wrt = case.sympy_build(tag)
    try:
        g = expr.diff(wrt)
    except Exception as exc:  # noqa: BLE001 - SymPy's failure is what we report
        msg = str(exc).strip().splitlines()[0][:40] if str(exc).strip() else ""
        return f"fails ({type(exc).__name__}{': ' + msg if msg else ''})"
    # check SymPy's answer at a small size against the hand-written numpy gradient
    small = 6
    vals = case.inputs(small, np.random.default_rng(1))
    sym_of = {str(s.name)[: -len(tag)]: s for s in expr.free_symbols if isinstance(s, sympy.MatrixSymbol)}
    n, m, k, h = _sym_dims()
    dims = {n: small, m: small // 2, k: small // 2, h: small // 2}
    want = case.hand(**vals)
    if g == 0 or isinstance(g, sympy.ZeroMatrix):
        return "wrong (returns 0)"
    try:
        got = _sympy_value(g, {sym_of[name]: np.asarray(v) for name, v in vals.items() if name in sym_of}, dims)
    except Exception as exc:  # noqa: BLE001
        return f"unevaluable result ({type(exc).__name__})"
    if got.size != want.size or not np.allclose(got.reshape(want.shape), want):
        return "wrong result"
    times = []
    for _ in range(repeat):
        expr, wrt = case.sympy_build(fresh_tag())
        times.append(time_once(lambda: expr.diff(wrt)))
    return f"{statistics.median(times) * 1e3:.1f}"


# ---- optional jax and torch columns ---------------------------------------------------------------------------
def _torch_grad(case: Case) -> Callable[..., Any] | None:
    try:
        import torch
    except ImportError:
        return None
    T = torch

    def loss(label: str, v: dict[str, Any]) -> Any:
        if label.startswith("aᵀXb"):
            return v["a"] @ v["X"] @ v["b"]
        if label.startswith("tr"):
            return T.trace(v["A"] @ v["X"] @ v["B"])
        if label.startswith("log det"):
            return T.logdet(v["X"])
        if label.startswith("‖"):
            return T.sum((v["A"] @ v["X"] - v["B"]) ** 2)
        if label.startswith("Σ"):
            return T.sum(T.nn.functional.softplus(-v["y"] * (v["X"] @ v["w"])))
        if label.startswith("GP"):
            return T.logdet(v["K"]) / 2 + v["y"] @ T.linalg.solve(v["K"], v["y"]) / 2
        if label.startswith("softmax"):
            return -T.sum(v["Y"] * T.log_softmax(v["X"] @ v["W"], dim=1))
        if label.startswith("attention"):
            return T.sum(v["G"] * (T.softmax(v["Q"] @ v["K"].T, dim=1) @ v["V"]))
        h1 = T.relu(v["X"] @ v["W1"].T + v["b1"])
        h2 = T.relu(h1 @ v["W2"].T + v["b2"])
        return T.sum(T.sigmoid(h2 @ v["W3"].T + v["b3"]))

    wrt = {"aᵀXb": "X", "tr": "X", "log det": "X", "‖": "X", "Σ": "w", "GP": "K", "softmax": "W", "attention": "Q"}
    name = next((w for p, w in wrt.items() if case.label.startswith(p)), "W1")

    def run(**arrays: Any) -> Any:
        v = {k: T.as_tensor(a, dtype=T.float64) for k, a in arrays.items()}
        v[name].requires_grad_(True)
        (g,) = T.autograd.grad(loss(case.label, v), v[name])
        return g.numpy()
    return run


def _jax_grad(case: Case) -> Callable[..., Any] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    names = list(case.inputs(4, np.random.default_rng(0)))

    def loss(*xs: Any) -> Any:
        v = dict(zip(names, xs))
        if case.label.startswith("aᵀXb"):
            return v["a"] @ v["X"] @ v["b"]
        if case.label.startswith("tr"):
            return jnp.trace(v["A"] @ v["X"] @ v["B"])
        if case.label.startswith("log det"):
            return jnp.linalg.slogdet(v["X"])[1]
        if case.label.startswith("‖"):
            return jnp.sum((v["A"] @ v["X"] - v["B"]) ** 2)
        if case.label.startswith("Σ"):
            return jnp.sum(jnp.logaddexp(0.0, -v["y"] * (v["X"] @ v["w"])))
        if case.label.startswith("GP"):
            return jnp.linalg.slogdet(v["K"])[1] / 2 + v["y"] @ jnp.linalg.solve(v["K"], v["y"]) / 2
        if case.label.startswith("softmax"):
            return -jnp.sum(v["Y"] * jax.nn.log_softmax(v["X"] @ v["W"], axis=1))
        if case.label.startswith("attention"):
            return jnp.sum(v["G"] * (jax.nn.softmax(v["Q"] @ v["K"].T, axis=1) @ v["V"]))
        h1 = jax.nn.relu(v["X"] @ v["W1"].T + v["b1"])
        h2 = jax.nn.relu(h1 @ v["W2"].T + v["b2"])
        return jnp.sum(jax.nn.sigmoid(h2 @ v["W3"].T + v["b3"]))

    wrt = {"aᵀXb": "X", "tr": "X", "log det": "X", "‖": "X", "Σ": "w", "GP": "K", "softmax": "W", "attention": "Q"}
    name = next((w for p, w in wrt.items() if case.label.startswith(p)), "W1")
    g = jax.jit(jax.grad(loss, argnums=names.index(name)))
    return lambda **arrays: np.asarray(g(*arrays.values()).block_until_ready())


# ---- the table ---------------------------------------------------------------------------------------------------
def blas_info() -> str:
    """numpy's BLAS, its kernel and thread count (read from the loaded OpenBLAS, as threadpoolctl does)."""
    parts = []
    try:
        libs = {ln.split()[-1] for ln in open("/proc/self/maps") if "openblas" in ln.lower() and "/" in ln}
    except OSError:
        libs = set()
    for path in sorted(libs):
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                cfg, core, thr = (getattr(lib, f"{prefix}{what}{suffix}", None)
                                  for what in ("get_config", "get_corename", "get_num_threads"))
                if cfg and core and thr:
                    cfg.restype = core.restype = ctypes.c_char_p
                    parts.append(f"{cfg().decode().split()[0]} {cfg().decode().split()[1]}, kernel "
                                 f"{core().decode()}, {thr()} threads")
                    break
            else:
                continue
            break
    return "; ".join(parts) or "unknown BLAS"


def environment() -> list[str]:
    return [
        f"- Python {platform.python_version()}, numpy {np.__version__}, sympy {sympy.__version__}, "
        f"matderiv {md.__version__}; {os.cpu_count()} CPUs ({platform.machine()})",
        f"- BLAS: {blas_info()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}",
        "- load average before the run: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    ]


def fmt_ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def run(sizes: list[int], repeat: int, quick: bool, argv: list[str]) -> int:
    min_time = 0.005 if quick else 0.02
    derive_repeat = 7 if quick else 21
    sympy_repeat = 3 if quick else 7
    lambdify = getattr(md, "lambdify", None)
    extra_cols = {"jax": _jax_grad, "torch": _torch_grad}

    print("# matderiv benchmark\n")
    print(f"`{' '.join(['python bench/bench.py', *argv])}` — sizes {sizes}, {repeat} "
          f"samples per timing (median), {derive_repeat} derivations (median)\n")
    print("\n".join(environment()))
    if os.getloadavg()[0] > 1.0:
        print("- the machine is busy (load average above 1): expect noisy timings, compare the ratios")
    print()
    head = ["expression", "n", "hand numpy (ms)", "matderiv generated (ms)", "ratio", "derive (ms, fresh)",
            "derive (ms, warm)", "SymPy .diff (ms)", "jax (ms)", "torch (ms)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join([":--"] + ["--:"] * (len(head) - 1)) + "|")
    misses: list[str] = []
    for case in CASES:
        fresh_ms, warm_ms = time_derivation(case, derive_repeat)
        if fresh_ms > TARGET_DERIVE_MS:
            misses.append(f"{case.label}: derivation {fresh_ms:.2f} ms > {TARGET_DERIVE_MS} ms")
        sym = sympy_derivation(case, sympy_repeat)
        f, wrt, seed, args = case.build("")
        g = derive(f, wrt, seed)
        gen = None
        if lambdify is not None:
            gen = lambdify(args, g)
        extras = {k: mk(case) for k, mk in extra_cols.items()}
        for i, n in enumerate(sizes):
            vals = case.inputs(n, np.random.default_rng(n))
            want = case.hand(**vals)
            fns: list[Callable[[], object]] = [lambda: case.hand(**vals)]
            if gen is not None:
                got = gen(*vals.values())
                same_shape = np.shape(got) == np.shape(want)
                if not same_shape or not np.allclose(got, want, rtol=1e-7, atol=1e-9 * np.abs(want).max()):
                    diff = np.abs(np.asarray(got) - want).max() if same_shape else "-"
                    raise SystemExit(f"{case.label}, n={n}: generated code disagrees with hand-written numpy "
                                     f"(shape {np.shape(got)} vs {np.shape(want)}, max abs diff {diff})\n"
                                     + md.numpy_code([g], args=args, name="grad"))
                fns.append(lambda: gen(*vals.values()))
            extra_t: dict[str, str] = {}
            for name, fn in extras.items():
                if fn is None:
                    extra_t[name] = "n/a"
                    continue
                try:
                    if not np.allclose(fn(**vals), want):
                        extra_t[name] = "wrong result"
                        continue
                    extra_t[name] = fmt_ms(time_many([lambda: fn(**vals)], repeat, min_time)[0][0])
                except Exception as exc:  # noqa: BLE001 - an optional column never stops the benchmark
                    extra_t[name] = f"error ({type(exc).__name__})"
            t, r = time_many(fns, repeat, min_time)
            t_hand, t_gen = t[0], (t[1] if gen is not None else None)
            ratio = "n/a" if t_gen is None else f"{r:.2f}"
            if t_gen is not None and r > TARGET_RATIO:
                misses.append(f"{case.label}, n={n}: generated {r:.2f}× hand-written")
                ratio += " ✗"
            d_fresh, d_warm, d_sym = ((f"{fresh_ms:.2f}", f"{warm_ms:.2f}", sym) if i == 0 else ("″", "″", "″"))
            print(f"| {case.label} | {n} | {fmt_ms(t_hand)} | {fmt_ms(t_gen)} | {ratio} | {d_fresh} | {d_warm} | "
                  f"{d_sym} | {extra_t['jax']} | {extra_t['torch']} |", flush=True)
    print("\nShapes: " + "; ".join(f"{c.label.split(' (')[0]} — {c.sizes}" for c in CASES) + ".")
    print("Derivation times are for symbolic dimensions (n, m, …), so one number serves every n; \"fresh\" "
          "derives an expression with new symbol names each time (no cache helps), \"warm\" derives the same "
          "expression again. SymPy's time is with fresh names too; its answer is checked numerically at n = 6.")
    print(f"First derivation in a new process: {cold_derivation_ms()}.")
    print("Ratio: the median over interleaved pairs of samples of generated/hand-written time.")
    print(f"Targets: generated ≤ {TARGET_RATIO}× hand-written numpy; derivation (fresh) ≤ {TARGET_DERIVE_MS} ms.")
    if lambdify is None:
        print("md.lambdify is not available: no generated-code column.")
        return 1
    print("All targets met." if not misses else "Targets missed:\n" + "\n".join(f"- {m}" for m in misses))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="matrix sizes n (default: 500 1000)")
    p.add_argument("--repeat", type=int, default=None, help="timing samples per measurement (default 15, quick 5)")
    p.add_argument("--quick", action="store_true", help="n = 500 only, fewer and shorter samples")
    argv = sys.argv[1:] if argv is None else argv
    a = p.parse_args(argv)
    sizes = a.sizes or ([500] if a.quick else [500, 1000])
    if any(n < 4 for n in sizes):
        p.error("sizes must be at least 4")
    repeat = a.repeat or (5 if a.quick else 15)
    return run(sizes, repeat, a.quick, argv)


if __name__ == "__main__":
    sys.exit(main())
