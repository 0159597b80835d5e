"""Every op in ``matderiv.ops.OPS`` has its VJP certified against float64 central differences of a hand-written
numpy implementation, along random directions and with a random seed matrix.

The table below must name every op that takes arguments: adding an op to the registry fails
``test_table_covers_every_op`` until a sample and a numpy implementation are added here.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import sympy

import matderiv as md
from conftest import assert_canonical, assert_vjp, ev, well_conditioned
from matderiv.ad import vjp_raw
from matderiv.core.expr import iter_nodes
from matderiv.core.functions import NAMED
from matderiv.core.expr import OPS
from matderiv.ops import blockdot, blocksum

LEAVES = {"symbol", "const", "ones", "zeros", "eye"}
Values = Callable[[np.random.Generator], list[np.ndarray]]


@dataclass
class Sample:
    id: str
    build: Callable[[], tuple[md.Expr, list[md.Expr]]]  # () -> (F, its symbols in the order of `f`'s arguments)
    f: Callable[..., np.ndarray]  # hand-written numpy, 2-D in and out
    values: Values


def normal(*shapes: tuple[int, int]) -> Values:
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def positive(*shapes: tuple[int, int]) -> Values:
    return lambda rng: [rng.uniform(0.5, 2.0, s) for s in shapes]


def away_from_zero(*shapes: tuple[int, int]) -> Values:
    """Entries with 0.3 ≤ |x| ≤ 1.5: away from the kinks of abs, sign, relu, step."""
    return lambda rng: [rng.choice([-1.0, 1.0], s) * rng.uniform(0.3, 1.5, s) for s in shapes]


def bounded(*shapes: tuple[int, int]) -> Values:
    return lambda rng: [rng.uniform(-1.0, 1.0, s) for s in shapes]


def square(n: int, *more: tuple[int, int]) -> Values:
    """A generic well-conditioned n×n matrix with positive determinant, then normal values."""
    return lambda rng: [well_conditioned(rng, n)] + [rng.standard_normal(s) for s in more]


def mat(name: str, r: int, c: int) -> md.Expr:
    return md.matrix(name, r, c)


X32, Y32, s, v3 = mat("X", 3, 2), mat("Y", 3, 2), md.scalar("s"), md.vector("v", 3)
A33, B32, C24 = mat("A", 3, 3), mat("B", 3, 2), mat("C", 2, 4)
r2 = md.vector("r", 2)


def col(a: np.ndarray) -> np.ndarray:
    return np.reshape(a, (-1, 1))


def one(x: float) -> np.ndarray:
    return np.array([[x]])


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def fn_sample(name: str, f: Callable[[np.ndarray], np.ndarray], values: Values) -> Sample:
    return Sample(name, lambda: (getattr(md, name)(X32), [X32]), f, values)


cube = md.elementwise("cube", lambda t: t**3 + sympy.sin(t))
_t = sympy.Symbol("t")
gauss = md.elementwise("gauss", sympy.exp(-_t**2))

TABLE: dict[str, list[Sample]] = {
    "add": [
        Sample("X+Y", lambda: (X32 + Y32, [X32, Y32]), lambda X, Y: X + Y, normal((3, 2), (3, 2))),
        Sample("s+X", lambda: (s + X32, [s, X32]), lambda s, X: s + X, normal((1, 1), (3, 2))),
        Sample("X+r.T", lambda: (X32 + r2.T, [X32, r2]), lambda X, r: X + r.T, normal((3, 2), (2, 1))),
        Sample("X-v", lambda: (X32 - v3, [X32, v3]), lambda X, v: X - v, normal((3, 2), (3, 1))),
    ],
    "mul": [
        Sample("X*Y", lambda: (X32 * Y32, [X32, Y32]), lambda X, Y: X * Y, normal((3, 2), (3, 2))),
        Sample("s*X*Y", lambda: (s * X32 * Y32, [s, X32, Y32]), lambda s, X, Y: s * X * Y,
               normal((1, 1), (3, 2), (3, 2))),
        Sample("X*r.T", lambda: (X32 * r2.T, [X32, r2]), lambda X, r: X * r.T, normal((3, 2), (2, 1))),
        Sample("X/Y", lambda: (X32 / Y32, [X32, Y32]), lambda X, Y: X / Y, away_from_zero((3, 2), (3, 2))),
    ],
    "power": [
        Sample("X**3", lambda: (X32**3, [X32]), lambda X: X**3, normal((3, 2))),
        Sample("X**-2", lambda: (X32**-2, [X32]), lambda X: X**-2.0, away_from_zero((3, 2))),
        Sample("X**0.5", lambda: (X32**0.5, [X32]), np.sqrt, positive((3, 2))),
        Sample("X**2.5", lambda: (X32**2.5, [X32]), lambda X: X**2.5, positive((3, 2))),
    ],
    "matmul": [
        Sample("B@C", lambda: (B32 @ C24, [B32, C24]), lambda B, C: B @ C, normal((3, 2), (2, 4))),
        Sample("A@B@C", lambda: (A33 @ B32 @ C24, [A33, B32, C24]), lambda A, B, C: A @ B @ C,
               normal((3, 3), (3, 2), (2, 4))),
        Sample("v.T@A@v", lambda: (v3.T @ A33 @ v3, [v3, A33]), lambda v, A: v.T @ A @ v, normal((3, 1), (3, 3))),
    ],
    "transpose": [Sample("X.T", lambda: (X32.T, [X32]), lambda X: X.T, normal((3, 2)))],
    "apply": [
        fn_sample("exp", np.exp, normal((3, 2))),
        fn_sample("log", np.log, positive((3, 2))),
        fn_sample("sin", np.sin, normal((3, 2))),
        fn_sample("cos", np.cos, normal((3, 2))),
        fn_sample("tan", np.tan, bounded((3, 2))),
        fn_sample("tanh", np.tanh, normal((3, 2))),
        fn_sample("sqrt", np.sqrt, positive((3, 2))),
        fn_sample("abs", np.abs, away_from_zero((3, 2))),
        fn_sample("sign", np.sign, away_from_zero((3, 2))),
        fn_sample("relu", lambda X: np.maximum(X, 0), away_from_zero((3, 2))),
        fn_sample("sigmoid", sigmoid, normal((3, 2))),
        fn_sample("softplus", lambda X: np.log1p(np.exp(X)), normal((3, 2))),
        fn_sample("step", lambda X: (X > 0).astype(float), away_from_zero((3, 2))),
        Sample("cube", lambda: (cube(X32), [X32]), lambda X: X**3 + np.sin(X), normal((3, 2))),
        Sample("gauss", lambda: (gauss(X32), [X32]), lambda X: np.exp(-X**2), normal((3, 2))),
        Sample("exp(A@B)", lambda: (md.exp(A33 @ B32), [A33, B32]), lambda A, B: np.exp(A @ B),
               bounded((3, 3), (3, 2))),
    ],
    "trace": [Sample("tr A", lambda: (md.trace(A33), [A33]), lambda A: one(np.trace(A)), normal((3, 3))),
              Sample("tr(B@C@C.T@B.T)", lambda: (md.trace(B32 @ C24 @ C24.T @ B32.T), [B32, C24]),
                     lambda B, C: one(np.trace(B @ C @ C.T @ B.T)), normal((3, 2), (2, 4)))],
    "det": [Sample("det A", lambda: (md.det(A33), [A33]), lambda A: one(np.linalg.det(A)), square(3))],
    "logdet": [Sample("logdet A", lambda: (md.logdet(A33), [A33]), lambda A: one(np.log(np.linalg.det(A))),
                      square(3))],
    "inv": [Sample("inv A", lambda: (md.inv(A33), [A33]), np.linalg.inv, square(3))],
    "solve": [
        Sample("solve(A,B)", lambda: (md.solve(A33, B32), [A33, B32]), np.linalg.solve, square(3, (3, 2))),
        Sample("solve(A,v)", lambda: (md.solve(A33, v3), [A33, v3]), np.linalg.solve, square(3, (3, 1))),
    ],
    "sum": [Sample("sum X", lambda: (md.sum(X32), [X32]), lambda X: one(np.sum(X)), normal((3, 2)))],
    "norm2": [
        Sample("norm2 v", lambda: (md.norm2(v3), [v3]), lambda v: one(np.linalg.norm(v)), normal((3, 1))),
        Sample("norm2 X", lambda: (md.norm2(X32), [X32]), lambda X: one(np.linalg.norm(X)), normal((3, 2))),
    ],
    "diag": [Sample("diag v", lambda: (md.diag(v3), [v3]), np.diagflat, normal((3, 1)))],
    "diagpart": [Sample("diag A", lambda: (md.diag(A33), [A33]), lambda A: col(np.diag(A)), normal((3, 3)))],
    "kron": [Sample("kron(B,C)", lambda: (md.kron(B32, C24), [B32, C24]), np.kron, normal((3, 2), (2, 4)))],
    # blockdot(G, B)ᵢⱼ = ⟨Gᵢⱼ, B⟩ and blocksum(G, A) = Σᵢⱼ Aᵢⱼ Gᵢⱼ over the blocks Gᵢⱼ of G
    "blockdot": [Sample("blockdot(G,B)", lambda: (blockdot(mat("K", 9, 4), B32), [mat("K", 9, 4), B32]),
                        lambda K, B: np.einsum("ipjq,pq->ij", K.reshape(3, 3, 2, 2), B), normal((9, 4), (3, 2)))],
    "blocksum": [Sample("blocksum(G,A)", lambda: (blocksum(mat("K", 9, 4), B32), [mat("K", 9, 4), B32]),
                        lambda K, A: np.einsum("ipjq,ij->pq", K.reshape(3, 3, 2, 2), A), normal((9, 4), (3, 2)))],
    "logsumexp": [
        Sample("lse v", lambda: (md.logsumexp(v3), [v3]), lambda v: one(np.log(np.sum(np.exp(v)))), normal((3, 1))),
        Sample("lse X", lambda: (md.logsumexp(X32), [X32]), lambda X: one(np.log(np.sum(np.exp(X)))),
               normal((3, 2))),
    ],
    "softmax": [Sample("softmax v", lambda: (md.softmax(v3), [v3]), lambda v: np.exp(v) / np.sum(np.exp(v)),
                       normal((3, 1)))],
}
SAMPLES = [(op, smp) for op, smps in TABLE.items() for smp in smps]


def test_table_covers_every_op() -> None:
    assert {n for n, op in OPS.items() if op.vjp is None} == LEAVES, "an op with arguments has no VJP rule"
    assert set(TABLE) == set(OPS) - LEAVES
    assert {smp.id for smp in TABLE["apply"]} >= set(NAMED), "every named elementwise function has a sample"


@pytest.mark.parametrize("op,smp", SAMPLES, ids=[f"{op}:{smp.id}" for op, smp in SAMPLES])
def test_vjp_matches_finite_differences(op: str, smp: Sample) -> None:
    F, syms = smp.build()
    assert op in {n.op for n in iter_nodes([F])}, f"the sample {F} does not use '{op}'"
    rng = np.random.default_rng(zlib.crc32(f"{op}:{smp.id}".encode()))
    xs = smp.values(rng)
    ref = smp.f(*xs)
    assert np.shape(ref) == tuple(int(d) for d in F.shape)
    Z = md.matrix("Z", *F.shape)
    seed = rng.standard_normal(np.shape(ref))
    env = dict(zip(syms, xs)) | {Z: seed}
    simplified = md.vjp(F, syms, Z)
    raw = vjp_raw(F, syms, Z)  # the rules themselves, before simplification
    for c in simplified:
        assert_canonical(c)
    for cotangents in (simplified, raw):
        values = ev(list(cotangents), env)
        assert_vjp(smp.f, xs, dict(enumerate(values)), seed=seed, rng=rng)


@pytest.mark.parametrize("op,smp", SAMPLES, ids=[f"{op}:{smp.id}" for op, smp in SAMPLES])
def test_vjp_certified(op: str, smp: Sample) -> None:
    """The same VJPs certified by md.check (mpmath central differences at 50 digits, generic random inputs)."""
    F, syms = smp.build()
    Z = md.matrix("Z", *F.shape)
    for s in syms:
        report = md.check(F, s, seed=Z)
        assert report.ok, str(report)
