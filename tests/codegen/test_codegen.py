"""``md.numpy_code`` and ``md.lambdify``: numbers against hand-written numpy, natural shapes, the forms of the
generated source (shared values once, no n×n diagonal matrices, solves, chain order, numpy as the only import)
and the errors. The references are numpy written here by hand (or evaluated by :func:`reference`, a direct
2-D evaluation of the IR written here), never matderiv's printer."""
from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from typing import Any, Callable

import numpy as np
import pytest
import sympy

import matderiv as md
from matderiv.core.expr import Expr, iter_nodes
from conftest import reference
from matderiv.ops import blockdot, blocksum

N, M = 4, 3
n, m = "n", "m"
A, P = md.matrix("A", n, n), md.matrix("P", n, n)
X, Y = md.matrix("X", n, m), md.matrix("Y", n, m)
a, u = md.vector("a", n), md.vector("u", n)
b, v = md.vector("b", m), md.vector("v", m)
s = md.scalar("s")
R = md.matrix("R", 1, m)  # a row


def _values() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    q = rng.standard_normal((N, N))
    return {
        "A": rng.standard_normal((N, N)) + 3 * np.eye(N),  # well conditioned, not symmetric
        "P": q @ q.T + N * np.eye(N),  # positive definite
        "X": rng.standard_normal((N, M)), "Y": rng.uniform(0.5, 2.0, (N, M)),  # Y > 0
        "a": rng.standard_normal(N), "u": rng.standard_normal(N),
        "b": rng.standard_normal(M), "v": rng.uniform(0.5, 2.0, M),
        "s": 0.7, "R": rng.standard_normal(M),
    }


V = _values()


def call(exprs: Any, syms: list[Expr]) -> Any:
    return md.lambdify(syms, exprs)(*(V[x.name] for x in syms))


def syms_of(e: Expr) -> list[Expr]:
    return sorted(e.free_symbols, key=lambda x: x.name)


def body(e: Any, args: list[Any]) -> str:
    """The computing lines of the generated source (after the argument checks)."""
    lines = md.numpy_code(e, args).splitlines()
    last = max(i for i, line in enumerate(lines) if "np.asarray" in line or "raise ValueError" in line
               or ".flat[0]" in line or ".ravel()" in line or (".shape[" in line and "if " not in line))
    return "\n".join(lines[last + 1:])


# ---- the seed example --------------------------------------------------------------------------------------------
def test_seed_gradient_of_aXb() -> None:
    av, Xv, bv = [1, 2, 3, 4], [[1, 2, 3], [5, 6, 7], [8, 9, 10], [5, 4, 3]], [2, 3, 4]
    out = md.lambdify([a, X, b], md.grad(a.T @ X @ b, X))(av, Xv, bv)
    np.testing.assert_array_equal(out, [[2, 3, 4], [4, 6, 8], [6, 9, 12], [8, 12, 16]])
    assert out.dtype == np.float64 and out.shape == (4, 3)
    value, ga, gb = md.lambdify([a, X, b], [a.T @ X @ b, *md.grad(a.T @ X @ b, [a, b])])(av, Xv, bv)
    assert type(value) is float and value == 517.0
    np.testing.assert_array_equal(ga, np.array(Xv) @ bv)
    np.testing.assert_array_equal(gb, np.array(Xv).T @ av)


# ---- every op against hand-written numpy ----------------------------------------------------------------------------
def _blockdot_ref(g: np.ndarray, bb: np.ndarray) -> np.ndarray:
    p, q = bb.shape
    return np.array([[np.sum(g[i * p:(i + 1) * p, j * q:(j + 1) * q] * bb) for j in range(g.shape[1] // q)]
                     for i in range(g.shape[0] // p)])


def _blocksum_ref(g: np.ndarray, aa: np.ndarray) -> np.ndarray:
    p, q = g.shape[0] // aa.shape[0], g.shape[1] // aa.shape[1]
    return sum(aa[i, j] * g[i * p:(i + 1) * p, j * q:(j + 1) * q]
               for i in range(aa.shape[0]) for j in range(aa.shape[1]))


G8, B2 = md.matrix("G", 8, 9), md.matrix("K", 2, 3)
V["G"] = np.random.default_rng(3).standard_normal((8, 9))
V["K"] = np.random.default_rng(4).standard_normal((2, 3))
cube = md.elementwise("cube", lambda t: t**3 - 2 * t)
clip = md.elementwise("clip", lambda t: sympy.Max(t, -0.5))

CASES: dict[str, tuple[Callable[[], Expr], Callable[[dict[str, Any]], Any]]] = {
    "aXb": (lambda: a.T @ X @ b, lambda d: d["a"] @ d["X"] @ d["b"]),
    "add": (lambda: X + Y, lambda d: d["X"] + d["Y"]),
    "sub-scaled": (lambda: X - 2 * Y + 3, lambda d: d["X"] - 2 * d["Y"] + 3),
    "neg": (lambda: -X, lambda d: -d["X"]),
    "mul": (lambda: X * Y, lambda d: d["X"] * d["Y"]),
    "div": (lambda: X / Y, lambda d: d["X"] / d["Y"]),
    "scalar-times": (lambda: s * X, lambda d: d["s"] * d["X"]),
    "scalar-sum": (lambda: s + a.T @ u, lambda d: d["s"] + d["a"] @ d["u"]),
    "square": (lambda: X**2, lambda d: d["X"] ** 2),
    "cube-power": (lambda: X**3, lambda d: d["X"] ** 3),
    "sqrt-power": (lambda: Y**0.5, lambda d: np.sqrt(d["Y"])),
    "reciprocal": (lambda: Y**-1, lambda d: 1 / d["Y"]),
    "rsqrt": (lambda: Y**-0.5, lambda d: d["Y"] ** -0.5),
    "power-1.5": (lambda: Y**1.5, lambda d: d["Y"] ** 1.5),
    "transpose": (lambda: X.T, lambda d: d["X"].T),
    "row-transpose": (lambda: R.T, lambda d: d["R"]),
    "matmul": (lambda: X.T @ A, lambda d: d["X"].T @ d["A"]),
    "matvec": (lambda: A @ a, lambda d: d["A"] @ d["a"]),
    "vecmat": (lambda: a.T @ X, lambda d: d["a"] @ d["X"]),
    "chain": (lambda: A @ P @ X @ b, lambda d: d["A"] @ d["P"] @ d["X"] @ d["b"]),
    "outer": (lambda: a @ b.T, lambda d: np.outer(d["a"], d["b"])),
    "outer-chain": (lambda: A @ a @ b.T @ X.T, lambda d: np.outer(d["A"] @ d["a"], d["b"]) @ d["X"].T),
    "dot": (lambda: a.T @ u, lambda d: d["a"] @ d["u"]),
    "row-broadcast": (lambda: X + R, lambda d: d["X"] + d["R"][None, :]),
    "vector-row-broadcast": (lambda: X + b.T, lambda d: d["X"] + d["b"][None, :]),
    "column-broadcast": (lambda: X * a, lambda d: d["X"] * d["a"][:, None]),
    "both-broadcast": (lambda: a + b.T + 0 * X, lambda d: d["a"][:, None] + d["b"][None, :]),
    "broadcast-output": (lambda: md.ones(n) @ b.T + 0 * a @ b.T, lambda d: np.outer(np.ones(N), d["b"])),
    "broadcast-in-function": (lambda: md.exp(md.ones(n) @ b.T) * X, lambda d: np.exp(d["b"])[None, :] * d["X"]),
    "broadcast-in-product": (lambda: (md.ones(n) @ b.T) @ X.T,
                             lambda d: np.outer(np.ones(N), d["b"]) @ d["X"].T),
    "broadcast-sum": (lambda: md.sum(md.ones(n) @ b.T) + a.T @ u,
                      lambda d: N * d["b"].sum() + d["a"] @ d["u"]),
    "column-sums": (lambda: X.T @ md.ones(n), lambda d: d["X"].sum(axis=0)),
    "row-sums": (lambda: X @ md.ones(m), lambda d: d["X"].sum(axis=1)),
    "ones-row-times": (lambda: md.ones(n).T @ X, lambda d: d["X"].sum(axis=0)),
    "ones-matrix": (lambda: X + md.ones(n, m), lambda d: d["X"] + 1),
    "ones-output": (lambda: md.ones(n, m) + 0 * X, lambda d: np.ones((N, M))),
    "zeros": (lambda: md.zeros(n, m) + 0 * X, lambda d: np.zeros((N, M))),
    "eye": (lambda: 2 * md.eye(n) + A, lambda d: 2 * np.eye(N) + d["A"]),
    "diag-times": (lambda: md.diag(a) @ X, lambda d: np.diag(d["a"]) @ d["X"]),
    "times-diag": (lambda: X.T @ md.diag(a), lambda d: d["X"].T @ np.diag(d["a"])),
    "diag-vector": (lambda: md.diag(a) @ u, lambda d: np.diag(d["a"]) @ d["u"]),
    "row-diag": (lambda: u.T @ md.diag(a), lambda d: d["u"] @ np.diag(d["a"])),
    "diag-diag": (lambda: md.diag(a) @ md.diag(u) @ X, lambda d: np.diag(d["a"]) @ np.diag(d["u"]) @ d["X"]),
    "diag": (lambda: md.diag(a), lambda d: np.diag(d["a"])),
    "diagpart": (lambda: md.diag(A), lambda d: np.diag(d["A"])),
    "diagpart-transposed": (lambda: md.diag(A.T @ P), lambda d: np.diag(d["A"].T @ d["P"])),
    "inv": (lambda: md.inv(A), lambda d: np.linalg.inv(d["A"])),
    "inv-transposed": (lambda: md.inv(A.T), lambda d: np.linalg.inv(d["A"]).T),
    "inv-times": (lambda: md.inv(A) @ X, lambda d: np.linalg.inv(d["A"]) @ d["X"]),
    "times-inv": (lambda: X.T @ md.inv(A), lambda d: d["X"].T @ np.linalg.inv(d["A"])),
    "row-times-inv": (lambda: a.T @ md.inv(A), lambda d: d["a"] @ np.linalg.inv(d["A"])),
    "inv-transposed-times": (lambda: md.inv(A.T) @ a, lambda d: np.linalg.inv(d["A"].T) @ d["a"]),
    "inv-sandwich": (lambda: a.T @ md.inv(A) @ P @ md.inv(A.T) @ u,
                     lambda d: d["a"] @ np.linalg.inv(d["A"]) @ d["P"] @ np.linalg.inv(d["A"]).T @ d["u"]),
    "inv-inv": (lambda: md.inv(A) @ md.inv(P), lambda d: np.linalg.inv(d["A"]) @ np.linalg.inv(d["P"])),
    "inv-diag": (lambda: md.inv(A) @ md.diag(a), lambda d: np.linalg.inv(d["A"]) @ np.diag(d["a"])),
    "diag-inv": (lambda: md.diag(a) @ md.inv(A), lambda d: np.diag(d["a"]) @ np.linalg.inv(d["A"])),
    "inv-ones": (lambda: md.inv(A) @ md.ones(n), lambda d: np.linalg.inv(d["A"]) @ np.ones(N)),
    "solve": (lambda: md.solve(A, X), lambda d: np.linalg.solve(d["A"], d["X"])),
    "solve-vector": (lambda: md.solve(A.T, a), lambda d: np.linalg.solve(d["A"].T, d["a"])),
    "trace": (lambda: md.trace(A @ P), lambda d: np.trace(d["A"] @ d["P"])),
    "det": (lambda: md.det(A), lambda d: np.linalg.det(d["A"])),
    "logdet": (lambda: md.logdet(P), lambda d: np.log(np.linalg.det(d["P"]))),
    "sum": (lambda: md.sum(X), lambda d: d["X"].sum()),
    "norm-matrix": (lambda: md.norm2(X), lambda d: np.sqrt(np.sum(d["X"] ** 2))),
    "norm-vector": (lambda: md.norm2(a), lambda d: np.sqrt(np.sum(d["a"] ** 2))),
    "kron": (lambda: md.kron(A, X), lambda d: np.kron(d["A"], d["X"])),
    "kron-vectors": (lambda: md.kron(a, b), lambda d: np.kron(d["a"], d["b"])),
    "kron-outer": (lambda: md.kron(a, b.T), lambda d: np.kron(d["a"][:, None], d["b"][None, :])),
    "blockdot": (lambda: blockdot(G8, B2), lambda d: _blockdot_ref(d["G"], d["K"])),
    "blocksum": (lambda: blocksum(G8, md.matrix("C", 4, 3)), None),  # filled below
    "logsumexp": (lambda: md.logsumexp(a), lambda d: np.log(np.sum(np.exp(d["a"])))),
    "logsumexp-matrix": (lambda: md.logsumexp(X * 300), lambda d: 300 * d["X"].max()
                         + np.log(np.sum(np.exp(300 * d["X"] - 300 * d["X"].max())))),
    "softmax": (lambda: md.softmax(a), lambda d: np.exp(d["a"]) / np.exp(d["a"]).sum()),
    "softmax-large": (lambda: md.softmax(a * 1000), lambda d: np.exp(1000 * (d["a"] - d["a"].max()))
                      / np.exp(1000 * (d["a"] - d["a"].max())).sum()),
    "exp": (lambda: md.exp(X), lambda d: np.exp(d["X"])),
    "log": (lambda: md.log(Y), lambda d: np.log(d["Y"])),
    "sin": (lambda: md.sin(X), lambda d: np.sin(d["X"])),
    "cos": (lambda: md.cos(X), lambda d: np.cos(d["X"])),
    "tan": (lambda: md.tan(X * 0.3), lambda d: np.tan(0.3 * d["X"])),
    "tanh": (lambda: md.tanh(X), lambda d: np.tanh(d["X"])),
    "sqrt": (lambda: md.sqrt(Y + X * X), lambda d: np.sqrt(d["Y"] + d["X"] ** 2)),
    "abs": (lambda: md.abs(X), lambda d: np.abs(d["X"])),
    "sign": (lambda: md.sign(X), lambda d: np.sign(d["X"])),
    "relu": (lambda: md.relu(X), lambda d: np.maximum(d["X"], 0)),
    "sigmoid": (lambda: md.sigmoid(X), lambda d: 1 / (1 + np.exp(-d["X"]))),
    "softplus": (lambda: md.softplus(X), lambda d: np.log1p(np.exp(d["X"]))),
    "step": (lambda: md.step(X), lambda d: (d["X"] > 0).astype(float)),
    "user-function": (lambda: cube(A @ X + 1), lambda d: (d["A"] @ d["X"] + 1) ** 3 - 2 * (d["A"] @ d["X"] + 1)),
    "user-max": (lambda: clip(X), lambda d: np.maximum(d["X"], -0.5)),
    "function-of-scalar": (lambda: md.exp(s) * X, lambda d: np.exp(d["s"]) * d["X"]),
    "number": (lambda: md.const(2.5) + 0 * s, lambda d: 2.5),
}
V["C"] = np.random.default_rng(5).standard_normal((4, 3))
CASES["blocksum"] = (CASES["blocksum"][0], lambda d: _blocksum_ref(d["G"], d["C"]))


@pytest.mark.parametrize("case", list(CASES))
def test_op_values(case: str) -> None:
    build, ref = CASES[case]
    e = build()
    syms = syms_of(e)
    out = call(e, syms)
    expected = ref(V)
    _check_natural(e, out)
    np.testing.assert_allclose(np.asarray(out, dtype=float).ravel(), np.ravel(expected), rtol=1e-12, atol=1e-12)


def _check_natural(e: Expr, out: Any) -> None:
    """Scalars are Python floats, vectors and rows 1-D arrays, matrices 2-D arrays, all float64."""
    r, c = (int(d.subs({sympy.Symbol("n", integer=True, positive=True): N,
                        sympy.Symbol("m", integer=True, positive=True): M})) for d in e.shape)
    if (r, c) == (1, 1):
        assert type(out) is float
    else:
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        assert out.shape == ((r * c,) if 1 in (r, c) else (r, c))


# ---- shapes and types of inputs --------------------------------------------------------------------------------------
def test_integer_inputs_are_promoted() -> None:
    fn = md.lambdify([A, a], [md.inv(A) @ a, a / 2])
    x, half = fn([[2, 0, 0, 0], [0, 4, 0, 0], [0, 0, 1, 0], [0, 0, 0, 8]], [1, 2, 3, 4])
    np.testing.assert_array_equal(x, [0.5, 0.5, 3, 0.5])
    np.testing.assert_array_equal(half, [0.5, 1, 1.5, 2])
    assert x.dtype == half.dtype == np.float64


def test_vectors_given_as_2d_columns_or_rows() -> None:
    fn = md.lambdify([X, b], X @ b)
    expected = V["X"] @ V["b"]
    for bv in (V["b"], V["b"][:, None], V["b"][None, :], list(V["b"])):
        out = fn(V["X"], bv)
        assert out.shape == (N,)
        np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_scalars_given_as_arrays_and_rows_as_2d() -> None:
    fn = md.lambdify([s, R, X], s * (R @ X.T))
    for sv in (0.7, np.float32(0.7), np.array(0.7), np.array([0.7]), np.array([[0.7]])):
        out = fn(sv, V["R"][None, :], V["X"])
        assert out.shape == (N,)
        np.testing.assert_allclose(out, float(np.float64(sv if np.ndim(sv) == 0 else np.ravel(sv)[0]))
                                   * (V["X"] @ V["R"]), rtol=1e-14)


def test_tuple_for_a_list_one_value_otherwise() -> None:
    assert isinstance(md.lambdify([a], [a.T @ a])(V["a"]), tuple)
    assert isinstance(md.lambdify([a], (a.T @ a, a))(V["a"]), tuple)
    assert type(md.lambdify([a], a.T @ a)(V["a"])) is float
    assert md.lambdify([a], 3)(V["a"]) == 3.0


def test_args_by_name_and_unused_args() -> None:
    e = a.T @ X @ b
    fn = md.lambdify(["X", "b", "a", u], e)  # order of args is the order of the values; u is unused
    assert fn(V["X"], V["b"], V["a"], V["u"]) == pytest.approx(V["a"] @ V["X"] @ V["b"], rel=1e-14)


# ---- the form of the generated source --------------------------------------------------------------------------------
@pytest.mark.parametrize("lu", ["numpy", "scipy"], ids=["default", "lu=scipy"])
def test_source_is_a_standalone_function_importing_only_numpy(lu: str) -> None:
    """Standalone: by default it imports numpy alone (whatever is installed; here scipy is) and solves A⁻¹u and
    A⁻ᵀa with one np.linalg.solve each (one per orientation); with ``lu="scipy"`` it imports scipy.linalg too
    and LU-factorises A once for both."""
    src = md.numpy_code([md.grad(md.logdet(P) + a.T @ md.inv(A) @ u, A), md.softmax(a)], [A, P, a, u], name="grad",
                        **({} if lu == "numpy" else {"lu": lu}))
    tree = ast.parse(src)
    imports = [alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names]
    if lu == "scipy":
        assert imports == ["numpy", "scipy.linalg"] and src.count("lu_factor(") == 1 and "np.linalg.solve" not in src
    else:
        assert imports == ["numpy"] and src.count("np.linalg.solve(") == 2 and "scipy" not in src
    assert src.startswith("import numpy as np\n")
    assert [f.name for f in tree.body if isinstance(f, ast.FunctionDef)] == ["grad"]
    if lu == "scipy" and find_spec("scipy") is None:
        pytest.skip("scipy is not installed: the lu='scipy' code cannot run here (its source is checked above)")
    script = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("matderiv", "sympy", "mpmath"):
                    raise ImportError(name)
        sys.meta_path.insert(0, Block())
        import json
        import numpy as np
        namespace = {}
        exec(sys.stdin.read(), namespace)
        A = np.diag([2.0, 3.0, 4.0, 5.0]); P = np.eye(4) * 2; a = np.arange(4.0); u = np.ones(4)
        g, sm = namespace["grad"](A, P, a, u)
        print(json.dumps([g.tolist(), sm.tolist()]))
        """)
    done = subprocess.run([sys.executable, "-c", script], input=src, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    g, sm = json.loads(done.stdout)
    Av, av, uv = np.diag([2.0, 3.0, 4.0, 5.0]), np.arange(4.0), np.ones(4)
    inv = np.linalg.inv(Av)
    np.testing.assert_allclose(g, -np.outer(inv.T @ av, inv @ uv), rtol=1e-14)  # ∂ aᵀA⁻¹u/∂A = −A⁻ᵀauᵀA⁻ᵀ
    np.testing.assert_allclose(sm, np.exp(av) / np.exp(av).sum(), rtol=1e-14)


def test_common_subexpressions_are_computed_once() -> None:
    src = body([md.exp(A @ X) + md.sin(A @ X), md.sum(A @ X)], [A, X])
    assert src.count("A @ X") == 1
    # a value and its transpose are one value
    src = body([md.exp(A @ X), md.exp(X.T @ A.T) @ a], [A, X, a])
    assert src.count("@ X") + src.count("X.T @") == 1


def test_mlp_forward_pass_is_shared_by_all_vjps() -> None:
    net, ps, G = _mlp()
    src = body(list(md.vjp(net, ps, G)), ps + [G])
    assert src.count("X @ W1.T") == 1 and "W1 @ X.T" not in src
    assert src.count("np.maximum(") == 2 and src.count("np.minimum(") == 2  # σ(u), σ(−u) = 1 − σ(u): once each


def test_diag_times_matrix_is_broadcasting() -> None:
    assert body(md.diag(a) @ X, [a, X]).strip() == "return a[:, None] * X"
    assert body(X.T @ md.diag(a), [a, X]).strip() == "return a * X.T"
    assert body(md.diag(a) @ u, [a, u]).strip() == "return a * u"
    assert "np.diag(" not in body(md.diag(a) @ md.diag(u) @ X, [a, u, X])
    assert "np.diag(a)" in body(md.diag(a), [a])


def test_inverses_become_solves() -> None:
    assert body(md.inv(A) @ a, [A, a]).strip() == "return np.linalg.solve(A, a)"
    assert body(md.inv(A.T) @ X, [A, X]).strip() == "return np.linalg.solve(A.T, X)"
    assert body(X.T @ md.inv(A), [A, X]).strip() == "return np.linalg.solve(A.T, X).T"
    assert body(md.inv(A), [A]).strip() == "return np.linalg.inv(A)"
    assert body(md.inv(A.T), [A]).strip() == "return np.linalg.inv(A).T"
    assert "np.linalg.inv" not in body(a.T @ md.inv(A) @ P @ md.inv(A.T) @ u, [A, P, a, u])


def test_chain_is_multiplied_in_a_good_order() -> None:
    B = md.matrix("B", n, n)
    assert body(A @ B @ a, [A, B, a]).strip() == "return A @ (B @ a)"
    assert "(a @ A) @ B" in body(a.T @ A @ B, [A, B, a]) or "a @ A @ B" in body(a.T @ A @ B, [A, B, a])


def test_ones_products_are_sums_and_broadcasts() -> None:
    assert body(X.T @ md.ones(n), [X]).strip() == "return X.sum(axis=0)"
    assert body(X @ md.ones(m), [X]).strip() == "return X.sum(axis=1)"
    assert body(X + b.T, [X, b]).strip() == "return X + b"
    assert body(X * a, [X, a]).strip() == "return a[:, None] * X"
    assert "np.outer(a, b)" in body(a @ b.T, [a, b])


def test_names_of_numpy_builtins_temporaries_and_dimensions_are_kept_apart() -> None:
    npv, t0, nv, fl = md.vector("np", n), md.matrix("t0", n, n), md.vector("n", n), md.scalar("float")
    e = md.sum(md.exp(t0 @ npv + nv * fl)) + md.trace(t0 @ t0)
    fn = md.lambdify([npv, t0, nv, fl], [e, md.grad(e, t0), md.ones(n) + 0 * nv])
    x, T, w, c = V["a"], V["A"], V["u"], 0.3
    value, grad, ones = fn(x, T, w, c)
    assert value == pytest.approx(np.exp(T @ x + c * w).sum() + np.trace(T @ T), rel=1e-14)
    np.testing.assert_allclose(grad, np.outer(np.exp(T @ x + c * w), x) + 2 * T.T, rtol=1e-14)
    np.testing.assert_array_equal(ones, np.ones(N))
    assert "def f(np_1, t0, n, float_1):" in fn.source
    wide, plain = md.vector("ｎｐ", n), md.vector("ﬁ", n)  # Python reads these as np and fi
    both = md.lambdify([wide, plain, md.vector("fi", n)], wide + 2 * plain)
    np.testing.assert_array_equal(both(V["a"], V["u"], V["u"]), V["a"] + 2 * V["u"])


def test_results_are_writable_arrays() -> None:
    for e, args in ((md.diag(A), [A]), (md.diag(A).T, [A]), (md.ones(n) @ b.T, [a, b]), (X + 0 * b.T, [X, b])):
        out = md.lambdify(args, e)(*(V[x.name] for x in args))
        assert out.flags.writeable
        out[0] = 1.0


def test_generated_code_uses_only_parameters_numpy_and_its_own_names() -> None:
    src = md.numpy_code(md.grad(md.logsumexp(A @ a) + md.norm2(md.diag(a) @ X), a), [A, a, X], name="g")
    tree = ast.parse(src)
    fn = tree.body[1]
    assert isinstance(fn, ast.FunctionDef)
    params = {x.arg for x in fn.args.args}
    assigned = {t.id for node in ast.walk(fn) if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)}
    used = {node.id for node in ast.walk(fn) if isinstance(node, ast.Name)}
    assert used <= params | assigned | {"np", "float", "ValueError"}


def test_lambdify_exposes_its_source() -> None:
    fn = md.lambdify([a, X, b], md.grad(a.T @ X @ b, X))
    assert "np.outer(a, b)" in fn.source and fn.source in fn.__doc__
    assert fn.source == md.numpy_code(md.grad(a.T @ X @ b, X), [a, X, b])


# ---- derivatives -----------------------------------------------------------------------------------------------------
def _mlp() -> tuple[Expr, list[Expr], Expr]:
    Xi = md.matrix("X", "N", 15)
    W1, b1 = md.matrix("W1", 30, 15), md.vector("b1", 30)
    W2, b2 = md.matrix("W2", 15, 30), md.vector("b2", 15)
    W3, b3 = md.matrix("W3", 1, 15), md.vector("b3", 1)
    h1 = md.relu(Xi @ W1.T + b1.T)
    h2 = md.relu(h1 @ W2.T + b2.T)
    return md.sigmoid(h2 @ W3.T + b3.T), [Xi, W1, b1, W2, b2, W3, b3], md.matrix("G", "N", 1)


def test_mlp_vjp_equals_hand_written_backprop() -> None:
    net, ps, G = _mlp()
    rng = np.random.default_rng(11)
    Xv, W1, b1, W2, b2, W3, b3, Gv = (rng.standard_normal(sh) for sh in
                                       [(10, 15), (30, 15), 30, (15, 30), 15, (1, 15), 1, 10])
    got = md.lambdify(ps + [G], list(md.vjp(net, ps, G)))(Xv, W1, b1, W2, b2, W3, b3, Gv)
    z1 = Xv @ W1.T + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ W2.T + b2
    h2 = np.maximum(z2, 0)
    y = 1 / (1 + np.exp(-(h2 @ W3.T + b3)))
    d3 = Gv[:, None] * y * (1 - y)
    d2 = (d3 @ W3) * (z2 > 0)
    d1 = (d2 @ W2) * (z1 > 0)
    expected = [d1 @ W1, d1.T @ Xv, d1.sum(0), d2.T @ h1, d2.sum(0), d3.T @ h2, d3.sum()]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.ravel(g), np.ravel(e), rtol=1e-12, atol=1e-14)
    assert got[2].shape == (30,) and got[5].shape == (15,) and type(got[6]) is float


def test_logistic_loss_gradient() -> None:
    Xd, w, y = md.matrix("X", n, "d"), md.vector("w", "d"), md.vector("y", n)
    loss = md.sum(md.log(1 + md.exp(-y * (Xd @ w))))
    rng = np.random.default_rng(2)
    Xv, wv, yv = rng.standard_normal((20, 5)), rng.standard_normal(5), np.sign(rng.standard_normal(20))
    got = md.lambdify([Xd, w, y], md.grad(loss, w))(Xv, wv, yv)
    np.testing.assert_allclose(got, -Xv.T @ (yv / (1 + np.exp(yv * (Xv @ wv)))), rtol=1e-12)


@pytest.mark.parametrize("which", ["logdet", "frobenius", "trAXB"])
def test_gradients_against_finite_differences(which: str) -> None:
    rng = np.random.default_rng(5)
    B = md.matrix("B", m, n)
    if which == "logdet":
        f, var, args = md.logdet(P), P, [P]
        vals = [V["P"]]
        ref: Callable[..., float] = lambda p: np.linalg.slogdet(p)[1]
    elif which == "frobenius":
        f, var, args = md.norm2(A @ X - Y) ** 2, X, [A, X, Y]
        vals = [V["A"], V["X"], V["Y"]]
        ref = lambda aa, xx, yy: float(np.sum((aa @ xx - yy) ** 2))
    else:
        f, var, args = md.trace(A @ X @ B), X, [A, X, B]
        vals = [V["A"], V["X"], rng.standard_normal((M, N))]
        ref = lambda aa, xx, bb: float(np.trace(aa @ xx @ bb))
    i = args.index(var)
    g = md.lambdify(args, md.grad(f, var))(*vals)
    h = 1e-6
    for _ in range(3):
        d = rng.standard_normal(vals[i].shape)
        plus, minus = list(vals), list(vals)
        plus[i], minus[i] = vals[i] + h * d, vals[i] - h * d
        fd = (ref(*plus) - ref(*minus)) / (2 * h)
        assert np.sum(g * d) == pytest.approx(fd, rel=1e-7, abs=1e-8)


# ---- random expressions against a direct 2-D evaluation --------------------------------------------------------------
class RandomExpr:
    """Random well-typed expressions over n×n, n×m, vectors, rows and scalars (inverses only of P, which is
    well conditioned; logs and square roots only of positive values)."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def leaf(self, shape: tuple[Any, Any]) -> Expr:
        pools = {(n, n): [A, P, A.T, P.T], (n, m): [X, Y], (m, n): [X.T, Y.T], (n, 1): [a, u], (m, 1): [b, v],
                 (1, n): [a.T, u.T], (1, m): [b.T, v.T, R], (1, 1): [s, a.T @ u, md.const(1.5)],
                 (m, m): [X.T @ Y, md.eye(m) + Y.T @ X]}
        return self.r.choice(pools[shape])

    def gen(self, shape: tuple[Any, Any], depth: int) -> Expr:
        if depth == 0 or self.r.random() < 0.15:
            return self.leaf(shape)
        rows, cols = shape
        d = depth - 1
        T = (cols, rows)
        choices: list[Callable[[], Expr]] = [
            lambda: self.gen(shape, d) + self.gen(shape, d),
            lambda: self.gen(shape, d) - 2 * self.gen(shape, d),
            lambda: self.gen(shape, d) * self.gen(shape, d),
            lambda: self.gen((1, 1), d) * self.gen(shape, d),
            lambda: self.gen(T, d).T,
            lambda: self.gen((rows, n), d) @ self.gen((n, cols), d),
            lambda: self.gen((rows, m), d) @ self.gen((m, cols), d),
            lambda: self.gen((rows, n), d) @ self.gen((n, n), d) @ self.gen((n, cols), d),
            lambda: md.apply(self.r.choice(["sin", "tanh", "sigmoid", "relu", "abs", "cos"]), self.gen(shape, d)),
            lambda: md.exp(0.1 * self.gen(shape, d)) ** self.r.choice([-1, 0.5, -0.5, 2, 3]),
            lambda: (md.exp(0.1 * self.gen(shape, d)) ** self.r.choice([2, -1, 0.5])) ** self.r.choice([2, -1, 3]),
            lambda: md.sqrt(1 + self.gen(shape, d) ** 2),
            lambda: self.gen(shape, d) / (2 + md.sin(self.gen(shape, d))),
        ]
        if rows == n:
            choices += [lambda: md.inv(P) @ self.gen((n, cols), d), lambda: md.inv(P.T) @ self.gen((n, cols), d),
                        lambda: md.diag(self.gen((n, 1), d)) @ self.gen((n, cols), d),
                        lambda: md.solve(P, self.gen((n, cols), d))]
        if cols == n:
            choices += [lambda: self.gen((rows, n), d) @ md.inv(P),
                        lambda: self.gen((rows, n), d) @ md.diag(self.gen((n, 1), d))]
        if rows != 1 and cols != 1:  # broadcasts of rows and columns, outer products, products with ones
            choices += [lambda: self.gen(shape, d) + self.gen((1, cols), d),
                        lambda: self.gen(shape, d) * self.gen((rows, 1), d),
                        lambda: self.gen((rows, 1), d) @ self.gen((1, cols), d),
                        lambda: md.exp(md.ones(rows) @ self.gen((1, cols), d)) * self.gen(shape, d),
                        lambda: (self.gen((rows, 1), d) @ md.ones(cols).T) @ self.gen((cols, cols), d)
                        if cols == n else self.gen(shape, d)]
        if shape == (n, n):
            choices += [lambda: md.diag(self.gen((n, 1), d)), lambda: md.inv(P) + 0 * self.gen(shape, d),
                        lambda: md.inv(P.T) * self.gen(shape, d), lambda: md.eye(n) + self.gen(shape, d)]
        if cols == 1 and rows != 1:
            choices += [lambda: md.softmax(self.gen(shape, d)), lambda: self.gen((rows, m), d) @ md.ones(m),
                        lambda: md.diag(self.gen((rows, rows), d)) if rows == n else self.gen(shape, d)]
        if rows == 1 and cols != 1:
            choices += [lambda: md.ones(n).T @ self.gen((n, cols), d)]
        if shape == (1, 1):
            choices += [lambda: md.trace(self.gen((n, n), d)), lambda: md.sum(self.gen((n, m), d)),
                        lambda: md.norm2(self.gen((n, 1), d)), lambda: md.norm2(self.gen((n, m), d)),
                        lambda: md.logdet(P) * self.gen((1, 1), d), lambda: md.det(P) / 100,
                        lambda: md.logsumexp(self.gen((n, m), d)), lambda: self.gen((1, n), d) @ self.gen((n, 1), d),
                        lambda: self.gen((1, n), d) @ md.inv(P) @ self.gen((n, 1), d)]
        return self.r.choice(choices)()


SHAPES = [(n, n), (n, m), (m, n), (n, 1), (1, m), (1, 1)]


@pytest.mark.parametrize("seed", range(200))
def test_random_expressions_against_direct_evaluation(seed: int) -> None:
    rnd = RandomExpr(seed)
    es = [rnd.gen(rnd.r.choice(SHAPES), 3) for _ in range(3)]
    syms = sorted(set().union(*(e.free_symbols for e in es)) | {a, b}, key=lambda x: x.name)
    with np.errstate(divide="raise", invalid="raise", over="ignore", under="ignore"):
        got = md.lambdify(syms, es)(*(V[x.name] for x in syms))
    _assert_match_reference(es, got)


def _assert_match_reference(exprs: list[Expr], got: tuple[Any, ...]) -> None:
    """Each generated value has its natural shape and equals the direct evaluation of its expression."""
    for e, g in zip(exprs, got):
        ref = reference(e, V, {"n": N, "m": M})
        _check_natural(e, g)
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(np.ravel(g), ref.ravel(), rtol=1e-9, atol=1e-12 * scale, err_msg=str(e))


@pytest.mark.parametrize("seed", range(60))
def test_random_gradients_against_direct_evaluation(seed: int) -> None:
    """The simplifier's forms of gradients are printed right (value of the same formula, evaluated directly)."""
    rnd = RandomExpr(1000 + seed)
    f = rnd.gen((1, 1), 3)
    syms = sorted(f.free_symbols | {a, b}, key=lambda x: x.name)
    wrt = [x for x in syms if x in f.free_symbols]
    if not wrt:
        pytest.skip("constant")
    grads = list(md.grad(f, wrt))
    _assert_match_reference(grads, md.lambdify(syms, grads)(*(V[x.name] for x in syms)))


# ---- errors ----------------------------------------------------------------------------------------------------------
def test_missing_symbol_is_named() -> None:
    with pytest.raises(md.ArgumentError, match="'b'"):
        md.lambdify([a, X], a.T @ X @ b)
    with pytest.raises(md.ArgumentError, match="'b'"):
        md.numpy_code(a.T @ X @ b, ["a", "X"])


def test_unknown_argument_name_is_named() -> None:
    with pytest.raises(md.ArgumentError, match="'zz'"):
        md.numpy_code(a.T @ X @ b, ["a", "X", "b", "zz"])


def test_bad_arguments() -> None:
    with pytest.raises(md.ArgumentError, match="not a symbol"):
        md.lambdify([a + u], a + u)
    with pytest.raises(md.ArgumentError, match="twice"):
        md.lambdify([a, "a"], a)
    with pytest.raises(md.ArgumentError):
        md.lambdify([1.5], a)
    with pytest.raises(md.ArgumentError):
        md.lambdify([a], [])
    with pytest.raises(md.ShapeError, match="'x'"):
        md.numpy_code([md.vector("x", n), md.vector("x", m)], ["x"])
    with pytest.raises(md.ShapeError, match="'a'"):
        md.numpy_code(a + a, [md.vector("a", m)])


def test_undetermined_dimension_is_a_keyword() -> None:
    """A dimension no argument's shape gives is a keyword-only parameter named after it (issue 6 item 7)."""
    x = md.vector("x", "n")
    g = md.grad(s * md.sum(x), x)  # s 1: its size n is known to no argument of lambdify([s], g)
    fn = md.lambdify([s], g)
    np.testing.assert_array_equal(fn(2.0, n=4), [2.0, 2.0, 2.0, 2.0])
    assert "def f(s, *, n):" in md.numpy_code(g, [s]) and fn.dims == ("n",)
    with pytest.raises(md.ArgumentError, match="dimension n"):
        fn(2.0)
    with pytest.raises(md.ArgumentError, match="'k'"):
        fn(2.0, n=4, k=2)
    for bad in (0, 2.5, "4"):
        with pytest.raises(md.ArgumentError, match="dimension n"):
            fn(2.0, n=bad)
    with pytest.raises(md.ArgumentError, match="dimension k"):
        md.lambdify([b], md.ones("k") @ b.T)(V["b"])
    out = md.lambdify([b], md.ones("k") @ b.T)(V["b"], k=2)
    np.testing.assert_array_equal(out, np.outer(np.ones(2), V["b"]))
    assert md.lambdify([b], md.sum(md.ones("k", m) * b.T))(V["b"], k=5) == pytest.approx(5 * V["b"].sum())
    # a dimension some arguments fix and a keyword one together; a keyword checked against a compound dimension
    w2 = md.vector("w", 2 * sympy.Symbol("k"))
    fn2 = md.lambdify([w2, a], md.sum(w2) * md.ones("k") + 0 * md.sum(a))
    np.testing.assert_allclose(fn2(np.arange(6.0), V["a"], k=3), [15.0] * 3)
    with pytest.raises(md.ShapeError, match="'w'"):
        fn2(np.arange(6.0), V["a"], k=2)
    # the keyword keeps the dimension's name when a symbol has it (the symbol is renamed)
    nsym = md.scalar("n")
    fn3 = md.lambdify([nsym], nsym * md.ones("n"))
    assert fn3(1.5, n=2).tolist() == [1.5, 1.5] and "def f(n_1, *, n):" in fn3.source


def test_wrong_input_shapes() -> None:
    fn = md.lambdify([a, X, b], a.T @ X @ b)
    with pytest.raises(md.ShapeError, match=r"'X' has shape \(3, 3\).*n = 4.*'a'"):
        fn(V["a"], np.ones((3, 3)), V["b"])
    with pytest.raises(md.ShapeError, match=r"'b'.*m = 3"):
        fn(V["a"], V["X"], np.ones(4))
    with pytest.raises(md.ShapeError, match=r"'X' must be a 2-D array"):
        fn(V["a"], np.ones(12), V["b"])
    with pytest.raises(md.ShapeError, match=r"'a' must be a 1-D array"):
        fn(np.ones((2, 2)), V["X"], V["b"])
    with pytest.raises(md.ShapeError, match=r"'s' must be a number"):
        md.lambdify([s], s * 2)(np.ones(2))
    with pytest.raises(md.ShapeError, match=r"'K'.*must be 3"):
        md.lambdify([B2], B2 * 2)(np.ones((2, 2)))
    assert issubclass(md.ShapeError, ValueError)


def test_generated_source_alone_raises_value_error_naming_the_argument() -> None:
    namespace: dict[str, Any] = {}
    exec(md.numpy_code(a.T @ X @ b, [a, X, b], name="f"), namespace)
    with pytest.raises(ValueError, match="'X'") as info:
        namespace["f"](V["a"], np.ones((3, 3)), V["b"])
    assert not isinstance(info.value, md.MatderivError)


def test_wrong_number_of_values_and_non_numbers() -> None:
    fn = md.lambdify([a, X, b], a.T @ X @ b)
    with pytest.raises(md.ArgumentError, match="'b'"):
        fn(V["a"], V["X"])
    with pytest.raises(md.ArgumentError, match="too many"):
        fn(V["a"], V["X"], V["b"], V["b"])
    with pytest.raises(md.ArgumentError, match="'X'"):
        fn(V["a"], "not a matrix", V["b"])


def test_invalid_function_names() -> None:
    for bad in ("1f", "np", "float", "class", "_f"):
        with pytest.raises(md.InvalidNameError):
            md.numpy_code(a, [a], name=bad)


def test_elementwise_function_numpy_cannot_evaluate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy", None)  # without scipy, Bessel functions are out of reach
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    bessel = md.elementwise("besselish", lambda t: sympy.besselj(0, t))
    with pytest.raises(md.ArgumentError, match="besselish"):
        md.numpy_code(bessel(a), [a])


gelu = md.elementwise("gelu", lambda t: t * (1 + sympy.erf(t / sympy.sqrt(2))) / 2)  # exact GELU, torch's default


def _gelu(t: np.ndarray) -> np.ndarray:
    import math
    return np.array([v * (1 + math.erf(v / math.sqrt(2))) / 2 for v in t])


def _gelu_prime(t: np.ndarray) -> np.ndarray:
    import math
    return np.array([(1 + math.erf(v / math.sqrt(2))) / 2 + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                     for v in t])


@pytest.mark.parametrize("scipy", [True, False])
def test_erf_lambdifies_with_scipy_or_vectorised_math(scipy: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """exact GELU and its derivative: scipy.special.erf when scipy is installed, else np.vectorize(math.erf)."""
    if scipy:
        pytest.importorskip("scipy.special")
    else:
        monkeypatch.setitem(sys.modules, "scipy", None)
        monkeypatch.setitem(sys.modules, "scipy.special", None)
    x = md.vector("x", n)
    f = md.sum(gelu(x))
    g = md.grad(f, x)
    src = md.numpy_code([f, g], [x])
    if scipy:
        assert "import scipy.special\n" in src and "scipy.special.erf(" in src and "math" not in src
    else:
        assert "scipy" not in src and "import math\n" in src and "np.vectorize(math.erf" in src
    value, grad = md.lambdify([x], [f, g])(V["a"])
    np.testing.assert_allclose(value, _gelu(V["a"]).sum(), rtol=1e-14)
    np.testing.assert_allclose(grad, _gelu_prime(V["a"]), rtol=1e-14)
    assert "scipy" not in md.numpy_code(md.exp(x), [x]) and "math" not in md.numpy_code(md.exp(x), [x])


def test_parts_of_a_derivative_are_named_after_what_they_compute() -> None:
    """d/dx gelu = ½ + ½ erf(x/√2) + x e^{−x²/2}/√(2π): the erf part is named after erf, the other a part of gelu′
    (not gelu′ itself)."""
    x = md.vector("x", n)
    g = md.grad(md.sum(gelu(x)), x)
    names = sorted(e.params[0].name for e in iter_nodes([g]) if e.op == "apply")
    assert names == ["erf_scaled", "gelu_prime_part"], names
    whole = md.elementwise("wiggle", lambda t: sympy.pi * sympy.sin(t))
    names = [e.params[0].name for e in iter_nodes([md.grad(md.sum(whole(x)), x)]) if e.op == "apply"]
    assert names == ["wiggle_prime"]  # the derivative is one unknown part: it is wiggle′


def test_logdet_is_log_of_a_positive_determinant() -> None:
    """log det X for det X > 0 (np.linalg.slogdet's log |det|, documented)."""
    fn = md.lambdify([A], md.logdet(A))
    Av = np.diag([2.0, 3.0, 1.0, 0.5])
    assert fn(Av) == pytest.approx(np.log(3.0), rel=1e-14)
    assert "slogdet" in (md.numpy_code.__doc__ or "")
