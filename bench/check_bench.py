"""matderiv's gradient checks against torch.autograd.gradcheck: time, and the smallest injected error each detects.

    python bench/check_bench.py            (about a minute; torch optional: its columns say n/a without it)

Problems: the gradient of log det X (n = 12, 20) with one entry of the gradient multiplied by 1 + ε, at a random
well-conditioned X (fixed seed), for ε = 10⁻¹, 10⁻², …, 10⁻¹⁴. Checks:

- torch.autograd.gradcheck (defaults: eps 1e-6, atol 1e-5, rtol 1e-3, slow mode) of a custom autograd.Function
  whose backward carries the error;
- md.gradcheck of the same Function (torch autograd as the analytic side, float64 Ridders reference);
- md.check(logdet(X), X, grad=<numpy function with the error>) (mpmath reference at dps 30).

"detects down to" is the smallest ε flagged with every larger ε flagged too. Also: the default certificate of
the 50×50 log-det gradient (3 directions, dps 30), matderiv's own formula.
"""
from __future__ import annotations

import time

import numpy as np

import matderiv as md

EPS = [10.0 ** -k for k in range(1, 15)]
I, J = 3, 7


def point(n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, n)) + np.sqrt(n) * np.eye(n)


def numpy_grad(eps: float):
    def g(X: np.ndarray) -> np.ndarray:
        G = np.linalg.inv(X).T.copy()
        G[I, J] *= 1 + eps
        return G
    return g


def torch_fn(eps: float):
    import torch

    class LogDet(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(X)
            return torch.logdet(X)

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (X,) = ctx.saved_tensors
            G = torch.linalg.inv(X).T.clone()
            G[I, J] *= 1 + eps
            return g * G
    return LogDet.apply


def threshold(flags: list[bool]) -> str:
    """The smallest ε such that it and every larger ε are flagged."""
    best = None
    for eps, flagged in zip(EPS, flags):
        if not flagged:
            break
        best = eps
    return "none" if best is None else f"{best:.0e}"


def timed(fn) -> tuple[object, float]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]
    rows = []
    for n in (12, 20):
        X0 = point(n)
        X = md.matrix("X", n, n)
        cols = {}
        if torch is not None:
            Xt = torch.tensor(X0, dtype=torch.double, requires_grad=True)
            flags, times = [], []
            for eps in EPS:
                ok, t = timed(lambda: torch.autograd.gradcheck(torch_fn(eps), (Xt,), raise_exception=False))
                flags.append(not ok); times.append(t)
            cols["torch.autograd.gradcheck"] = (threshold(flags), float(np.median(times)))
            flags, times = [], []
            for eps in EPS:
                r, t = timed(lambda: md.gradcheck(torch_fn(eps), (Xt,)))
                flags.append(not r); times.append(t)
            cols["md.gradcheck (torch autograd)"] = (threshold(flags), float(np.median(times)))
        else:
            cols["torch.autograd.gradcheck"] = ("n/a", float("nan"))
            cols["md.gradcheck (torch autograd)"] = ("n/a", float("nan"))
        flags, times = [], []
        for eps in EPS:
            r, t = timed(lambda: md.check(md.logdet(X), X, grad=numpy_grad(eps), at={X: X0}, dps=30))
            flags.append(not r); times.append(t)
        cols["md.check (numpy grad, mpmath)"] = (threshold(flags), float(np.median(times)))
        rows.append((n, cols))
    print("| problem | check | detects a single-entry relative error down to | time per check (s) |")
    print("|:--|:--|--:|--:|")
    for n, cols in rows:
        for name, (thr, t) in cols.items():
            print(f"| ∂ log det X/∂X, {n}×{n} | {name} | {thr} | {'n/a' if t != t else f'{t:.3f}'} |")
    X = md.matrix("X", 50, 50)
    md.check(md.logdet(md.matrix("Y", 3, 3)), "Y")  # warm-up: imports, code generation caches
    times = [timed(lambda: md.check(md.logdet(X), X, dps=30))[1] for _ in range(3)]
    print(f"\nDefault certificate of the 50×50 log-det gradient (3 directions, dps 30): median {np.median(times):.2f} s "
          f"of 3 runs (target ≤ 3 s).")


if __name__ == "__main__":
    main()
