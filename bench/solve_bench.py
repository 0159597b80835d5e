"""Solves in generated code: numpy alone (the default) against ``lu="scipy"`` and hand-written numpy.

``python bench/solve_bench.py [--sizes 500 1000] [--repeat N]`` (about a minute; output in SOLVE_RESULTS.md)
times three functions whose generated code solves linear systems: the default code (numpy alone: one
``np.linalg.solve`` per matrix and orientation, right-hand sides side by side), the ``lu="scipy"`` code (one
``scipy.linalg.lu_factor`` per matrix) and the obvious hand-written numpy. Every result is compared with the
hand-written one first. Ratios are medians of interleaved pairs (see bench.py). Target: default ≤ 1.1×
hand-written. Run it with ``OPENBLAS_NUM_THREADS=1`` on a shared machine.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matderiv as md  # noqa: E402
from bench import TARGET_RATIO, environment, fmt_ms, time_many  # noqa: E402

Arrays = dict[str, np.ndarray]


@dataclass
class Row:
    label: str
    build: Callable[[], tuple[list[md.Expr], list[md.Expr]]]  # (outputs, args)
    inputs: Callable[[int, np.random.Generator], Arrays]
    hand: Callable[..., Any]


def _matrix(n: int, rng: np.random.Generator) -> np.ndarray:
    return 3 * np.sqrt(n) * np.eye(n) + rng.standard_normal((n, n))


# ∂/∂A ½‖A⁻¹b − y‖² = −A⁻ᵀ(A⁻¹b − y)(A⁻¹b)ᵀ: a solve with Aᵀ of a right-hand side that needs the solve with A
def build_residual() -> tuple[list[md.Expr], list[md.Expr]]:
    A, b, y = md.matrix("A", "n", "n"), md.vector("b", "n"), md.vector("y", "n")
    return [md.grad(md.norm2(md.solve(A, b) - y) ** 2 / 2, A)], [A, b, y]


def inputs_residual(n: int, rng: np.random.Generator) -> Arrays:
    return {"A": _matrix(n, rng), "b": rng.standard_normal(n), "y": rng.standard_normal(n)}


def hand_residual(A: np.ndarray, b: np.ndarray, y: np.ndarray) -> tuple[np.ndarray]:
    x = np.linalg.solve(A, b)
    return (-np.outer(np.linalg.solve(A.T, x - y), x),)


# GP prediction with K symmetric: the weights K⁻¹y and K⁻¹k* of a test point, and K⁻¹Kₓ* of a block of them
def build_gp_predict() -> tuple[list[md.Expr], list[md.Expr]]:
    K = md.matrix("K", "n", "n", symmetric=True)
    y, k, Ks = md.vector("y", "n"), md.vector("k", "n"), md.matrix("Ks", "n", "m")
    return [md.solve(K, y), md.solve(K, k), md.solve(K, Ks)], [K, y, k, Ks]


def inputs_gp_predict(n: int, rng: np.random.Generator) -> Arrays:
    R = rng.standard_normal((n, n))
    return {"K": R @ R.T / n + np.eye(n), "y": rng.standard_normal(n), "k": rng.standard_normal(n),
            "Ks": rng.standard_normal((n, 8))}


def hand_gp_predict(K: np.ndarray, y: np.ndarray, k: np.ndarray, Ks: np.ndarray) -> tuple[np.ndarray, ...]:
    return np.linalg.solve(K, y), np.linalg.solve(K, k), np.linalg.solve(K, Ks)


# bᵀA⁻¹c and its three gradients: −A⁻ᵀbcᵀA⁻ᵀ (Cookbook eq. 61), A⁻¹c, A⁻ᵀb: one system per orientation
def build_bilinear() -> tuple[list[md.Expr], list[md.Expr]]:
    A, b, c = md.matrix("A", "n", "n"), md.vector("b", "n"), md.vector("c", "n")
    f = b.T @ md.inv(A) @ c
    return [f, md.grad(f, A), md.grad(f, b), md.grad(f, c)], [A, b, c]


def inputs_bilinear(n: int, rng: np.random.Generator) -> Arrays:
    return {"A": _matrix(n, rng), "b": rng.standard_normal(n), "c": rng.standard_normal(n)}


def hand_bilinear(A: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[Any, ...]:
    u, v = np.linalg.solve(A.T, b), np.linalg.solve(A, c)
    return float(b @ v), -np.outer(u, v), v, u


ROWS = [
    Row("∂/∂A ½‖A⁻¹b − y‖²", build_residual, inputs_residual, hand_residual),
    Row("K⁻¹y, K⁻¹k, K⁻¹K* (K symmetric, K*: n×8)", build_gp_predict, inputs_gp_predict, hand_gp_predict),
    Row("bᵀA⁻¹c and ∂/∂A, ∂/∂b, ∂/∂c", build_bilinear, inputs_bilinear, hand_bilinear),
]


def factorisations(src: str) -> int:
    return sum(src.count(c) for c in ("np.linalg.solve(", "np.linalg.inv(", "lu_factor("))


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[500, 1000])
    p.add_argument("--repeat", type=int, default=15)
    opts = p.parse_args(argv)
    print("# Solves in generated code: numpy alone against lu=\"scipy\" and hand-written numpy\n")
    print(f"`{' '.join(['python bench/solve_bench.py', *argv])}` — {opts.repeat} samples per timing (median)\n")
    print("\n".join(environment()) + "\n")
    head = ["expression", "n", "factorisations (default / scipy / hand)", "hand numpy (ms)",
            "default (ms)", "ratio", "lu=\"scipy\" (ms)", "ratio"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join([":--"] + ["--:"] * (len(head) - 1)) + "|")
    misses: list[str] = []
    import inspect
    for row in ROWS:
        outs, args = row.build()
        gens = {lu: md.lambdify(args, outs, lu=lu) for lu in ("numpy", "scipy")}
        counts = [factorisations(gens["numpy"].source), factorisations(gens["scipy"].source),
                  factorisations(inspect.getsource(row.hand))]
        for n in opts.sizes:
            vals = row.inputs(n, np.random.default_rng(n))
            want = row.hand(**vals)
            for lu, fn in gens.items():
                for g, w in zip(fn(*vals.values()), want):
                    if not np.allclose(g, w, rtol=1e-8, atol=1e-10 * np.abs(w).max()):
                        raise SystemExit(f"{row.label}, n={n}, lu={lu}: generated code disagrees with hand-written "
                                         f"numpy\n{fn.source}")
            hand: Callable[[], object] = lambda: row.hand(**vals)  # noqa: E731
            (t_hand, t_np), r_np = time_many([hand, lambda: gens["numpy"](*vals.values())], opts.repeat, 0.05)
            (_, t_sp), r_sp = time_many([hand, lambda: gens["scipy"](*vals.values())], opts.repeat, 0.05)
            mark = ""
            if r_np > TARGET_RATIO:
                misses.append(f"{row.label}, n={n}: default {r_np:.2f}× hand-written")
                mark = " ✗"
            print(f"| {row.label} | {n} | {' / '.join(map(str, counts))} | {fmt_ms(t_hand)} | {fmt_ms(t_np)} | "
                  f"{r_np:.2f}{mark} | {fmt_ms(t_sp)} | {r_sp:.2f} |", flush=True)
    print(f"\nRatio: the median over interleaved pairs of samples of generated/hand-written time. "
          f"Target: default ≤ {TARGET_RATIO}× hand-written.")
    print("Missed: " + "; ".join(misses) if misses else "Every row meets the target.")


if __name__ == "__main__":
    main(sys.argv[1:])
