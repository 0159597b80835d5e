"""Benchmark: matderiv's generated Hessian evaluators against hand-written numpy, jax.jit(jax.hessian) and
torch.func.hessian (CPU, float64), and an MLP Hessian-vector product against jax's and torch's jvp-of-grad.

For each row the script
  1. derives the Hessian with ``md.hessian`` (the HVP with ``md.hvp``, forward over reverse) and compiles it
     with ``md.lambdify``;
  2. checks that the generated function, the hand-written numpy and jax/torch agree (``np.allclose``) — a
     benchmark of a wrong result is worthless;
  3. times them interleaved after a warm-up (medians per call; the ratio generated/hand is the median of the
     per-pair ratios, robust on a loaded machine). jax is timed after ``jax.jit`` has compiled (the compile time
     is reported apart); torch.func.hessian is jacfwd(jacrev).

Rows: the logistic loss Σ log(1 + exp(−y⊙Xw)) at N = 2000, d = 300 (Hessian Xᵀ diag(y⊙y⊙σ(z)⊙σ(−z)) X,
z = y⊙Xw); the quadratic form xᵀAx at n = 2000 (A + Aᵀ); logsumexp(x) at n = 2000 (diag(p) − ppᵀ); the HVP of
a tanh MLP's squared loss ‖tanh(X W1ᵀ) w2 − y‖² with respect to W1 (X: 2000×300, W1: 300×300).
Target: generated ≤ 1.2× hand-written on every row.

Usage: python bench/hessian_bench.py [--repeat N] [--quick]   (jax and torch rows are "n/a" when not installed;
install them with ``pip install matderiv[bench]``)
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import matderiv as md
from bench import environment, fmt_ms, time_many

TARGET_RATIO = 1.2
Arrays = dict[str, Any]


def sig(t: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-t))


@dataclass
class Row:
    label: str
    shapes: str
    derive: Callable[[], tuple[md.Expr, list[md.Expr]]]   # the Hessian (or HVP) and its arguments
    inputs: Callable[[np.random.Generator], Arrays]         # by argument name, natural numpy shapes
    hand: Callable[..., np.ndarray]
    jax: Callable[[], Callable[..., Any] | None]
    torch: Callable[[], Callable[..., Any] | None]


def _jax() -> Any:
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def _torch() -> Any:
    try:
        import torch
        import torch.func  # noqa: F401
    except ImportError:
        return None
    return torch


# ---- logistic regression --------------------------------------------------------------------------------------
def logistic_derive() -> tuple[md.Expr, list[md.Expr]]:
    X, w, y = md.matrix("X", "N", "d"), md.vector("w", "d"), md.vector("y", "N")
    return md.hessian(md.sum(md.log(1 + md.exp(-y * (X @ w)))), w), [X, w, y]


def logistic_inputs(rng: np.random.Generator, N: int = 2000, d: int = 300) -> Arrays:
    return {"X": rng.standard_normal((N, d)) / np.sqrt(d), "w": rng.standard_normal(d),
            "y": rng.choice([-1.0, 1.0], size=N)}


def logistic_hand(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Xᵀ (r ⊙ X), r = σ(z)(1 − σ(z)), z = y⊙Xw (±1 labels: y² = 1)."""
    s = sig(y * (X @ w))
    return X.T @ ((s * (1 - s))[:, None] * X)


def logistic_jax() -> Callable[..., Any] | None:
    jax = _jax()
    if jax is None:
        return None
    jnp = jax.numpy
    h = jax.jit(jax.hessian(lambda w, X, y: jnp.sum(jnp.logaddexp(0.0, -y * (X @ w)))))
    return lambda X, w, y: np.asarray(h(w, X, y).block_until_ready())


def logistic_torch() -> Callable[..., Any] | None:
    T = _torch()
    if T is None:
        return None

    def run(X: Any, w: Any, y: Any) -> Any:
        Xt, yt = T.as_tensor(X), T.as_tensor(y)
        return T.func.hessian(lambda v: T.sum(T.nn.functional.softplus(-yt * (Xt @ v))))(T.as_tensor(w)).numpy()
    return run


# ---- quadratic form ---------------------------------------------------------------------------------------------
def quad_derive() -> tuple[md.Expr, list[md.Expr]]:
    x, A = md.vector("x", "n"), md.matrix("A", "n", "n")
    return md.hessian(x.T @ A @ x, x), [A, x]


def quad_inputs(rng: np.random.Generator, n: int = 2000) -> Arrays:
    return {"A": rng.standard_normal((n, n)), "x": rng.standard_normal(n)}


def quad_hand(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    return A + A.T


def quad_jax() -> Callable[..., Any] | None:
    jax = _jax()
    if jax is None:
        return None
    h = jax.jit(jax.hessian(lambda x, A: x @ A @ x))
    return lambda A, x: np.asarray(h(x, A).block_until_ready())


def quad_torch() -> Callable[..., Any] | None:
    T = _torch()
    if T is None:
        return None

    def run(A: Any, x: Any) -> Any:
        At = T.as_tensor(A)
        return T.func.hessian(lambda v: v @ At @ v)(T.as_tensor(x)).numpy()
    return run


# ---- logsumexp ------------------------------------------------------------------------------------------------------
def lse_derive() -> tuple[md.Expr, list[md.Expr]]:
    x = md.vector("x", "n")
    return md.hessian(md.logsumexp(x), x), [x]


def lse_inputs(rng: np.random.Generator, n: int = 2000) -> Arrays:
    return {"x": rng.standard_normal(n)}


def lse_hand(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    p = e / e.sum()
    return np.diag(p) - np.outer(p, p)


def lse_jax() -> Callable[..., Any] | None:
    jax = _jax()
    if jax is None:
        return None
    h = jax.jit(jax.hessian(jax.scipy.special.logsumexp))
    return lambda x: np.asarray(h(x).block_until_ready())


def lse_torch() -> Callable[..., Any] | None:
    T = _torch()
    if T is None:
        return None
    return lambda x: T.func.hessian(lambda v: T.logsumexp(v, 0))(T.as_tensor(x)).numpy()


# ---- MLP Hessian-vector product ------------------------------------------------------------------------------------
def mlp_derive() -> tuple[md.Expr, list[md.Expr]]:
    """∇²f(W1)[V] = d(∇f)[V] (md.hvp: forward over reverse) for f = ‖tanh(X W1ᵀ) w2 − y‖²."""
    X, W1, w2, y = md.matrix("X", "n", "k"), md.matrix("W1", "h", "k"), md.vector("w2", "h"), md.vector("y", "n")
    V = md.matrix("V", "h", "k")
    f = md.norm2(md.tanh(X @ W1.T) @ w2 - y) ** 2
    return md.hvp(f, W1, V), [X, W1, w2, y, V]


def mlp_inputs(rng: np.random.Generator, n: int = 2000, k: int = 300, h: int = 300) -> Arrays:
    return {"X": rng.standard_normal((n, k)), "W1": rng.standard_normal((h, k)) / np.sqrt(k),
            "w2": rng.standard_normal(h) / np.sqrt(h), "y": rng.standard_normal(n),
            "V": rng.standard_normal((h, k))}


def mlp_hand(X: np.ndarray, W1: np.ndarray, w2: np.ndarray, y: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Forward-over-reverse by hand: H = tanh(X W1ᵀ), r = H w2 − y, ∇f = Dᵀ X with D = 2 (r w2ᵀ) ⊙ (1 − H²);
    along V: dH = (1 − H²) ⊙ (X Vᵀ), dr = dH w2, dD = 2 (dr w2ᵀ) ⊙ (1 − H²) − 4 (r w2ᵀ) ⊙ H ⊙ dH."""
    H = np.tanh(X @ W1.T)
    S = 1 - H * H
    r = H @ w2 - y
    dH = S * (X @ V.T)
    dr = dH @ w2
    dD = 2 * np.outer(dr, w2) * S - 4 * np.outer(r, w2) * H * dH
    return dD.T @ X


def mlp_jax() -> Callable[..., Any] | None:
    jax = _jax()
    if jax is None:
        return None
    jnp = jax.numpy

    def f(W1: Any, X: Any, w2: Any, y: Any) -> Any:
        return jnp.sum((jnp.tanh(X @ W1.T) @ w2 - y) ** 2)

    @jax.jit
    def hvp(X: Any, W1: Any, w2: Any, y: Any, V: Any) -> Any:
        return jax.jvp(lambda W: jax.grad(f)(W, X, w2, y), (W1,), (V,))[1]
    return lambda X, W1, w2, y, V: np.asarray(hvp(X, W1, w2, y, V).block_until_ready())


def mlp_torch() -> Callable[..., Any] | None:
    T = _torch()
    if T is None:
        return None

    def run(X: Any, W1: Any, w2: Any, y: Any, V: Any) -> Any:
        Xt, w2t, yt = T.as_tensor(X), T.as_tensor(w2), T.as_tensor(y)
        g = T.func.grad(lambda W: T.sum((T.tanh(Xt @ W.T) @ w2t - yt) ** 2))
        return T.func.jvp(g, (T.as_tensor(W1),), (T.as_tensor(V),))[1].numpy()
    return run


ROWS = [
    Row("logistic loss Hessian", "X: 2000×300, w: 300, y: 2000 (±1)", logistic_derive, logistic_inputs,
        logistic_hand, logistic_jax, logistic_torch),
    Row("xᵀAx Hessian", "A: 2000×2000, x: 2000", quad_derive, quad_inputs, quad_hand, quad_jax, quad_torch),
    Row("logsumexp Hessian", "x: 2000", lse_derive, lse_inputs, lse_hand, lse_jax, lse_torch),
    Row("MLP HVP (∂²/∂W1² · V)", "X: 2000×300, W1, V: 300×300, w2: 300, y: 2000; f = ‖tanh(X W1ᵀ) w2 − y‖²",
        mlp_derive, mlp_inputs, mlp_hand, mlp_jax, mlp_torch),
]


def run(repeat: int, only: list[str] | None) -> int:
    rng = np.random.default_rng(0)
    lines = ["| expression | hand numpy (ms) | matderiv generated (ms) | ratio | jax.jit (ms) | torch.func (ms) | "
             "derive (ms) | jax compile (s) |", "|:--|--:|--:|--:|--:|--:|--:|--:|"]
    notes, worst = [], 0.0
    for row in ROWS:
        if only and not any(o.lower() in row.label.lower() for o in only):
            continue
        t0 = time.perf_counter()
        expr, args = row.derive()
        derive_ms = (time.perf_counter() - t0) * 1e3
        fn = md.lambdify(args, expr)
        vals = row.inputs(rng)
        ordered = [vals[a.name] for a in args]
        want = row.hand(**vals)
        got = np.asarray(fn(*ordered))
        assert got.shape == want.shape and np.allclose(got, want, rtol=1e-9, atol=1e-9), row.label
        fns = [lambda: row.hand(**vals), lambda: fn(*ordered)]
        (t_hand, t_gen), ratio = time_many(fns, repeat, 0.2)
        worst = max(worst, ratio)
        extra: list[str] = []
        compile_s = "n/a"
        for name, make in (("jax", row.jax), ("torch", row.torch)):
            other = make()
            if other is None:
                extra.append("n/a")
                continue
            t1 = time.perf_counter()
            ref = np.asarray(other(**vals))
            if name == "jax":
                compile_s = f"{time.perf_counter() - t1:.2f}"
            assert np.allclose(ref.reshape(want.shape), want, rtol=1e-8, atol=1e-8), (row.label, name)
            (t_other,), _ = time_many([lambda: other(**vals)], max(3, repeat // 2), 0.2)
            extra.append(fmt_ms(t_other))
        lines.append(f"| {row.label} | {fmt_ms(t_hand)} | {fmt_ms(t_gen)} | {ratio:.2f} | {extra[0]} | {extra[1]} | "
                     f"{derive_ms:.1f} | {compile_s} |")
        notes.append(f"{row.label} — {row.shapes}: `{expr}`")
    print("\n".join(lines))
    print()
    for n in notes:
        print(f"- {n}")
    print()
    print("Ratio: the median over interleaved pairs of samples of generated/hand-written time; jax after jit "
          "compilation (compile time apart), float64 everywhere.")
    print(f"Target: generated ≤ {TARGET_RATIO}× hand-written numpy on every row: "
          + ("met." if worst <= TARGET_RATIO else f"NOT met (worst {worst:.2f})."))
    print()
    print("\n".join(environment()))
    return 0 if worst <= TARGET_RATIO else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=11)
    p.add_argument("--only", nargs="*", help="rows whose label contains one of these words")
    ns = p.parse_args(argv)
    return run(ns.repeat, ns.only)


if __name__ == "__main__":
    sys.exit(main())
