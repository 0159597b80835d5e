"""False alarms and detection of md.check(f, X, grad=<numpy function>) over random problems and seeds.

    python bench/false_alarms.py [SEEDS]      (default 20 seeds per problem)

Prints, for correct hand-written numpy gradients of a dozen problems at random sizes, how many checks failed
(false alarms; must be 0) and the largest |Δ|/tolerance seen (the margin), and for the 20×20 log-det gradient
with one entry off by a relative 1e-10, how many seeds detect it.
"""
from __future__ import annotations

import sys
import time

import numpy as np

import matderiv as md


def sig(t):
    return 0.5 + 0.5 * np.tanh(0.5 * t)


def problems(n: int):
    X = md.matrix("X", n, n); A = md.matrix("A", n, n); B = md.matrix("B", n, n)
    a, b, x, y = (md.vector(k, n) for k in "abxy")
    m = max(2, n // 2)
    Z = md.matrix("Z", n, m); w = md.vector("w", m)
    W1 = md.matrix("W1", m, n); W2 = md.matrix("W2", 1, m)
    yield "logdet X", md.logdet(X), X, lambda X: np.linalg.inv(X).T
    yield "a'Xb", a.T @ X @ b, X, lambda a, b: np.outer(a, b)
    yield "tr(AXB)", md.trace(A @ X @ B), X, lambda A, B: A.T @ B.T
    yield "|AX-B|^2", md.norm2(A @ X - B) ** 2, X, lambda A, X, B: 2 * A.T @ (A @ X - B)
    yield "logistic", md.sum(md.log(1 + md.exp(-y * (Z @ w)))), w, lambda Z, w, y: -Z.T @ (sig(-y * (Z @ w)) * y)
    yield "x'Ax", x.T @ A @ x, x, lambda A, x: (A + A.T) @ x
    yield "x'inv(A)x", x.T @ md.inv(A) @ x, A, lambda A, x: -np.outer(np.linalg.solve(A.T, x), np.linalg.solve(A, x))
    yield "det X", md.det(X), X, lambda X: np.linalg.det(X) * np.linalg.inv(X).T
    yield "tr inv X", md.trace(md.inv(X)), X, lambda X: -np.linalg.matrix_power(np.linalg.inv(X).T, 2)
    yield "logsumexp", md.logsumexp(x), x, lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    yield "mlp", md.sum(md.sigmoid(W2 @ md.tanh(W1 @ x))), W1, \
        lambda W1, W2, x: np.outer(W2 * (s := sig(W2 @ np.tanh(W1 @ x))) * (1 - s) * (1 - np.tanh(W1 @ x) ** 2), x)
    yield "exp sum", md.sum(md.exp(X @ a)), a, lambda X, a: X.T @ np.exp(X @ a)


def main(seeds: int) -> None:
    total = alarms = 0
    margin = 0.0
    t0 = time.time()
    for seed in range(seeds):
        n = [2, 3, 5, 8, 12, 20][seed % 6]
        for name, f, v, g in problems(n):
            r = md.check(f, v, grad=g, dps=30, rng=seed)
            total += 1
            for var in r.variables:
                for c in var.comparisons:
                    margin = max(margin, c.abs_err / c.tol)
            if not r:
                alarms += 1
                print(f"FALSE ALARM: {name} n={n} seed={seed}\n{r}")
    print(f"correct gradients: {alarms} false alarms in {total} checks ({seeds} seeds × 12 problems, n = 2…20); "
          f"largest |Δ|/tolerance {margin:.3f}; {time.time() - t0:.0f} s")
    X = md.matrix("X", 20, 20)
    detected = 0
    for seed in range(seeds):
        def bad(X, seed=seed):
            G = np.linalg.inv(X).T.copy()
            i, j = np.random.default_rng(seed).integers(0, 20, 2)
            G[i, j] *= 1 + 1e-10
            return G
        detected += not md.check(md.logdet(X), X, grad=bad, dps=30, rng=seed)
    print(f"20×20 log det, one entry off by a relative 1e-10: detected in {detected} of {seeds} seeds")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
