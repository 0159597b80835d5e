"""The tests' one table of per-op facts: for every op of the registry, its meaning written in plain numpy by hand
(the independent reference every layer is compared with) and samples — expressions that use it, with generic
values in its domain. tests/test_ops_sweep.py runs every sample through every layer; a new op fails
``test_table_covers_every_op`` until it has a row here.

The numpy definitions take and return 2-D arrays (vectors n×1, scalars 1×1): ``numpy(node, *args)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy

import matderiv as md
from matderiv.core.expr import Expr
from matderiv.ops.cholesky import phi

Array = np.ndarray
Values = Callable[[np.random.Generator], list[Array]]


def _blocks(g: Array, p: int, q: int) -> list[list[Array]]:
    return [[g[i:i + p, j:j + q] for j in range(0, g.shape[1], q)] for i in range(0, g.shape[0], p)]


def _scalar(v: float) -> Array:
    return np.array([[v]], dtype=float)


def _product(xs: tuple[Array, ...], op: Callable[[Array, Array], Array]) -> Array:
    out = xs[0]
    for x in xs[1:]:
        out = op(out, x)
    return out


def sigmoid(x: Array) -> Array:
    return 1 / (1 + np.exp(-x))


#: Elementwise functions by name, in numpy.
FUNCS: dict[str, Callable[[Array], Array]] = {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "relu": lambda x: np.maximum(x, 0.0), "sigmoid": sigmoid,
    "softplus": lambda x: np.log1p(np.exp(x)), "step": lambda x: (x > 0).astype(float),
}


def _apply(e: Expr, a: Array) -> Array:
    fn = e.params[0]
    f = FUNCS.get(fn.name) or sympy.lambdify(sympy.Symbol("x", real=True), fn.body, "numpy")
    return np.broadcast_to(f(a), a.shape)


def _blocksum(e: Expr, g: Array, a: Array) -> Array:
    bs = _blocks(g, g.shape[0] // a.shape[0], g.shape[1] // a.shape[1])
    return sum(a[i, j] * bs[i][j] for i in range(a.shape[0]) for j in range(a.shape[1]))


#: What each op computes, in numpy written from the op's definition (not from matderiv's printers).
NUMPY: dict[str, Callable[..., Array]] = {
    "add": lambda e, *xs: _product(xs, np.add),
    "mul": lambda e, *xs: _product(xs, np.multiply),
    "matmul": lambda e, *xs: _product(xs, np.matmul),
    "power": lambda e, a: a ** float(e.params[0]),
    "transpose": lambda e, a: a.T,
    "apply": _apply,
    "trace": lambda e, a: _scalar(np.trace(a)),
    "det": lambda e, a: _scalar(np.linalg.det(a)),
    "logdet": lambda e, a: _scalar(np.log(np.linalg.det(a))),
    "logabsdet": lambda e, a: _scalar(np.log(np.abs(np.linalg.det(a)))),
    "cholesky": lambda e, a: np.linalg.cholesky((a + a.T) / 2),
    "phi": lambda e, a: np.tril(a) - 0.5 * np.diag(np.diag(a)),
    "inv": lambda e, a: np.linalg.inv(a),
    "solve": lambda e, a, b: np.linalg.solve(a, b),
    "sum": lambda e, a: _scalar(a.sum()),
    "norm2": lambda e, a: _scalar(np.sqrt((a ** 2).sum())),
    "diag": lambda e, v: np.diag(v[:, 0]),
    "diagpart": lambda e, a: np.diag(a)[:, None],
    "kron": lambda e, a, b: np.kron(a, b),
    "vectorize": lambda e, a: a.reshape(-1, 1, order="F"),  # the columns stacked
    "unvectorize": lambda e, v: v.reshape(int(e.shape[0]), int(e.shape[1]), order="F"),
    "blockdot": lambda e, g, b: np.array([[np.sum(blk * b) for blk in row] for row in _blocks(g, *b.shape)]),
    "blocksum": _blocksum,
    "logsumexp": lambda e, a: (_scalar(np.log(np.exp(a).sum())) if not e.params
                               else np.log(np.exp(a).sum(axis=e.params[0], keepdims=True))),
    "softmax": lambda e, a: (np.exp(a) / np.exp(a).sum() if not e.params
                             else np.exp(a) / np.exp(a).sum(axis=e.params[0], keepdims=True)),
}
LEAVES = frozenset({"symbol", "const", "ones", "zeros", "eye", "dimension", "commutation"})


def commutation(m: int, n: int) -> Array:
    """K with K vec(A) = vec(Aᵀ) for an m×n A: entry (j + i n, i + j m) is 1."""
    out = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            out[j + i * n, i + j * m] = 1.0
    return out


def reference(e: Expr, env: dict[str, Array], dims: dict[str, int]) -> Array:
    """``e`` evaluated op by op with :data:`NUMPY` on 2-D arrays: symbols' values by name, dimension sizes by
    name — the plainest numpy, independent of matderiv's code generation."""
    from matderiv.core.expr import iter_nodes
    subs = {sympy.Symbol(k, integer=True, positive=True): v for k, v in dims.items()}

    def size(d: sympy.Expr) -> int:
        return int(sympy.sympify(d).subs(subs))

    memo: dict[Expr, Array] = {}
    for x in iter_nodes([e]):
        shape = tuple(size(d) for d in x.shape)
        if x.op == "symbol":
            v = np.asarray(env[x.name], dtype=float).reshape(shape)
        elif x.op == "const":
            v = _scalar(float(x.params[0]))
        elif x.op in ("ones", "zeros"):
            v = np.full(shape, 1.0 if x.op == "ones" else 0.0)
        elif x.op == "eye":
            v = np.eye(shape[0])
        elif x.op == "dimension":
            v = _scalar(size(x.params[0]))
        elif x.op == "commutation":
            v = commutation(size(x.params[0]), size(x.params[1]))
        elif x.op in NUMPY:
            v = NUMPY[x.op](x, *(memo[y] for y in x.args))
        else:  # pragma: no cover
            raise AssertionError(f"tests/optable.py does not know {x.op!r}: add its numpy definition to NUMPY")
        memo[x] = np.asarray(v, dtype=float)
        assert memo[x].shape == shape, (x, memo[x].shape, shape)
    return memo[e]


# ---- samples ---------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    """An expression using the op and generic values in its domain, one array (2-D) per symbol in ``syms``."""

    id: str
    build: Callable[[], tuple[Expr, list[Expr]]]
    values: Values
    sympy: bool = True  # SymPy can express it (the round trip is tested)
    text: bool = True  # the text language can write it (the round trip is tested)
    tags: tuple[str, ...] = field(default=())

    def make(self) -> tuple[Expr, list[Expr]]:
        return self.build()

    def f(self, syms: list[Expr]) -> Callable[..., Array]:
        """The sample as a numpy function of its symbols' 2-D values (through :func:`reference`)."""
        F, _ = self.build()

        def run(*xs: Array) -> Array:
            env = {s.name: x for s, x in zip(syms, xs)}
            dims: dict[str, int] = {}
            for s, x in zip(syms, xs):
                for d, n in zip(s.shape, x.shape):
                    if d.is_Symbol:
                        dims[d.name] = n
            return reference(F, env, dims)
        return run


def normal(*shapes: tuple[int, int]) -> Values:
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def positive(*shapes: tuple[int, int]) -> Values:
    return lambda rng: [rng.uniform(0.5, 2.0, s) for s in shapes]


def away_from_zero(*shapes: tuple[int, int]) -> Values:
    """Entries with 0.3 ≤ |x| ≤ 1.5: away from the kinks of abs, sign, relu, step."""
    return lambda rng: [rng.choice([-1.0, 1.0], s) * rng.uniform(0.3, 1.5, s) for s in shapes]


def bounded(*shapes: tuple[int, int]) -> Values:
    return lambda rng: [rng.uniform(-1.0, 1.0, s) for s in shapes]


def well_conditioned(rng: np.random.Generator, n: int) -> Array:
    """A generic (non-symmetric) n×n matrix with positive determinant and singular values near 2."""
    return 2 * np.eye(n) + 0.3 * rng.standard_normal((n, n))


def square(n: int, *more: tuple[int, int]) -> Values:
    """A generic well-conditioned n×n matrix with positive determinant, then normal values."""
    return lambda rng: [well_conditioned(rng, n)] + [rng.standard_normal(s) for s in more]


def spd_part(n: int) -> Values:
    """A matrix whose symmetric part is positive definite (and which is not symmetric itself)."""
    def make(rng: np.random.Generator) -> list[Array]:
        b, c = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        return [b @ b.T / n + np.eye(n) + 0.3 * (c - c.T)]
    return make


def mat(name: str, r: int, c: int) -> Expr:
    return md.matrix(name, r, c)


X32, Y32, s, v3 = mat("X", 3, 2), mat("Y", 3, 2), md.scalar("s"), md.vector("v", 3)
A33, B32, C24, K94 = mat("A", 3, 3), mat("B", 3, 2), mat("C", 2, 4), mat("K", 9, 4)
r2, w6 = md.vector("r", 2), md.vector("w", 6)
cube = md.elementwise("cube", lambda t: t**3 + sympy.sin(t))
gauss = md.elementwise("gauss", sympy.exp(-sympy.Symbol("t")**2))


def fn_sample(name: str, values: Values) -> Sample:
    return Sample(name, lambda: (getattr(md, name)(X32), [X32]), values)


SAMPLES: dict[str, list[Sample]] = {
    "add": [
        Sample("X+Y", lambda: (X32 + Y32, [X32, Y32]), normal((3, 2), (3, 2))),
        Sample("s+X", lambda: (s + X32, [s, X32]), normal((1, 1), (3, 2))),
        Sample("X+r.T", lambda: (X32 + r2.T, [X32, r2]), normal((3, 2), (2, 1))),
        Sample("X-v", lambda: (X32 - v3, [X32, v3]), normal((3, 2), (3, 1))),
    ],
    "mul": [
        Sample("X*Y", lambda: (X32 * Y32, [X32, Y32]), normal((3, 2), (3, 2))),
        Sample("s*X*Y", lambda: (s * X32 * Y32, [s, X32, Y32]), normal((1, 1), (3, 2), (3, 2))),
        Sample("X*r.T", lambda: (X32 * r2.T, [X32, r2]), normal((3, 2), (2, 1))),
        Sample("X/Y", lambda: (X32 / Y32, [X32, Y32]), away_from_zero((3, 2), (3, 2))),
    ],
    "power": [
        Sample("X**3", lambda: (X32**3, [X32]), normal((3, 2))),
        Sample("X**-2", lambda: (X32**-2, [X32]), away_from_zero((3, 2))),
        Sample("X**0.5", lambda: (X32**0.5, [X32]), positive((3, 2))),
        Sample("X**2.5", lambda: (X32**2.5, [X32]), positive((3, 2))),
    ],
    "matmul": [
        Sample("B@C", lambda: (B32 @ C24, [B32, C24]), normal((3, 2), (2, 4))),
        Sample("A@B@C", lambda: (A33 @ B32 @ C24, [A33, B32, C24]), normal((3, 3), (3, 2), (2, 4))),
        Sample("v.T@A@v", lambda: (v3.T @ A33 @ v3, [v3, A33]), normal((3, 1), (3, 3))),
    ],
    "transpose": [Sample("X.T", lambda: (X32.T, [X32]), normal((3, 2)))],
    "apply": [
        fn_sample("exp", normal((3, 2))), fn_sample("log", positive((3, 2))), fn_sample("sin", normal((3, 2))),
        fn_sample("cos", normal((3, 2))), fn_sample("tan", bounded((3, 2))), fn_sample("tanh", normal((3, 2))),
        fn_sample("sqrt", positive((3, 2))), fn_sample("abs", away_from_zero((3, 2))),
        fn_sample("sign", away_from_zero((3, 2))), fn_sample("relu", away_from_zero((3, 2))),
        fn_sample("sigmoid", normal((3, 2))), fn_sample("softplus", normal((3, 2))),
        fn_sample("step", away_from_zero((3, 2))),
        Sample("cube", lambda: (cube(X32), [X32]), normal((3, 2))),
        Sample("gauss", lambda: (gauss(X32), [X32]), normal((3, 2))),
        Sample("exp(A@B)", lambda: (md.exp(A33 @ B32), [A33, B32]), bounded((3, 3), (3, 2))),
    ],
    "trace": [Sample("tr A", lambda: (md.trace(A33), [A33]), normal((3, 3))),
              Sample("tr(B@C@C.T@B.T)", lambda: (md.trace(B32 @ C24 @ C24.T @ B32.T), [B32, C24]),
                     normal((3, 2), (2, 4)))],
    "det": [Sample("det A", lambda: (md.det(A33), [A33]), square(3))],
    "logdet": [Sample("logdet A", lambda: (md.logdet(A33), [A33]), square(3))],
    "logabsdet": [Sample("logabsdet A, det A < 0", lambda: (md.logabsdet(A33), [A33]),
                         lambda rng: [np.diag([-1.0, 1.0, 1.0]) @ well_conditioned(rng, 3)])],
    "inv": [Sample("inv A", lambda: (md.inv(A33), [A33]), square(3))],
    "solve": [
        Sample("solve(A,B)", lambda: (md.solve(A33, B32), [A33, B32]), square(3, (3, 2))),
        Sample("solve(A,v)", lambda: (md.solve(A33, v3), [A33, v3]), square(3, (3, 1))),
    ],
    "sum": [Sample("sum X", lambda: (md.sum(X32), [X32]), normal((3, 2)))],
    "norm2": [
        Sample("norm2 v", lambda: (md.norm2(v3), [v3]), normal((3, 1))),
        Sample("norm2 X", lambda: (md.norm2(X32), [X32]), normal((3, 2))),
    ],
    "diag": [Sample("diag v", lambda: (md.diag(v3), [v3]), normal((3, 1)))],
    "diagpart": [Sample("diag A", lambda: (md.diag(A33), [A33]), normal((3, 3)))],
    # vec stacks columns; K(m, n) vec(A) = vec(Aᵀ); unvec undoes vec
    "vectorize": [Sample("vec X", lambda: (md.vec(X32), [X32]), normal((3, 2)), sympy=False, text=False),
                  Sample("K vec X", lambda: (md.commutation(3, 2) @ md.vec(X32 * X32), [X32]), normal((3, 2)),
                         sympy=False, text=False)],
    "unvectorize": [Sample("unvec(w, 3, 2)", lambda: (md.unvec(w6, 3, 2), [w6]), normal((6, 1)), sympy=False,
                           text=False)],
    "kron": [Sample("kron(B,C)", lambda: (md.kron(B32, C24), [B32, C24]), normal((3, 2), (2, 4)))],
    # blockdot(G, B)ᵢⱼ = ⟨Gᵢⱼ, B⟩ and blocksum(G, A) = Σᵢⱼ Aᵢⱼ Gᵢⱼ over the blocks Gᵢⱼ of G
    "blockdot": [Sample("blockdot(G,B)", lambda: (md.ops.blockdot(K94, B32), [K94, B32]), normal((9, 4), (3, 2)),
                        sympy=False)],
    "blocksum": [Sample("blocksum(G,A)", lambda: (md.ops.blocksum(K94, B32), [K94, B32]), normal((9, 4), (3, 2)),
                        sympy=False)],
    "logsumexp": [
        Sample("lse v", lambda: (md.logsumexp(v3), [v3]), normal((3, 1))),
        Sample("lse X", lambda: (md.logsumexp(X32), [X32]), normal((3, 2))),
        Sample("lse X rows", lambda: (md.logsumexp(X32, axis=1), [X32]), normal((3, 2))),
        Sample("lse X cols", lambda: (md.logsumexp(X32, axis=0), [X32]), normal((3, 2))),
    ],
    "cholesky": [Sample("chol S, S not symmetric", lambda: (md.cholesky(A33), [A33]), spd_part(3), sympy=False)],
    "phi": [Sample("phi A", lambda: (phi(A33), [A33]), normal((3, 3)), sympy=False)],
    "softmax": [Sample("softmax X rows", lambda: (md.softmax(X32, axis=1), [X32]), normal((3, 2))),
                Sample("softmax X cols", lambda: (md.softmax(X32, axis=0), [X32]), normal((3, 2))),
                Sample("attention softmax(A B B.T) B", lambda: (md.softmax(A33 @ B32 @ B32.T, axis=1) @ B32, [A33, B32]),
                       normal((3, 3), (3, 2))),
                Sample("softmax v", lambda: (md.softmax(v3), [v3]), normal((3, 1)))],
}
ALL: list[tuple[str, Sample]] = [(op, smp) for op, smps in SAMPLES.items() for smp in smps]
IDS = [f"{op}:{smp.id}" for op, smp in ALL]


def describe_table() -> dict[str, Any]:
    return {"ops": sorted(SAMPLES), "samples": len(ALL)}
