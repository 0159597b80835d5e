"""Generated code reuses work (issue 8, item 4): where an inverse is computed anyway, products with it use it;
a matrix that several solves use is factorised once — with numpy alone by default (one np.linalg.solve of the
right-hand sides side by side per orientation), with scipy.linalg.lu_factor when asked (lu="scipy"); the GP gradient ½(K⁻ᵀ − K⁻ᵀyyᵀK⁻ᵀ) computes one inverse.

Values are compared with hand-written numpy (np.linalg.inv / np.linalg.solve), the structure of the source by
counting its calls.
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from importlib.util import find_spec

import numpy as np
import pytest

import matderiv as md
from matderiv.codegen.numpy import NumPyPrinter

HAVE_SCIPY = find_spec("scipy") is not None  # lu="scipy" code runs only where scipy is (its source is checked anyway)

n = "n"
A, B, C = md.matrix("A", n, n), md.matrix("B", n, n), md.matrix("C", n, n)
K, S = md.matrix("K", n, n), md.matrix("K", n, n, symmetric=True)
b, c, y = md.vector("b", n), md.vector("c", n), md.vector("y", n)
N = 6
RNG = np.random.default_rng(8)
Av = 3 * np.eye(N) + RNG.standard_normal((N, N))
Bv, Cv = RNG.standard_normal((N, N)), RNG.standard_normal((N, N))
bv, cv, yv = RNG.standard_normal(N), RNG.standard_normal(N), RNG.standard_normal(N)
Sv = Av @ Av.T + N * np.eye(N)


class NumPyOnly(NumPyPrinter):
    lu_module = None  # a backend without lu_factor


def _gp(K_: md.Expr) -> md.Expr:
    """The GP negative log marginal likelihood's gradient w.r.t. K: ∂(½ log det K + ½ yᵀK⁻¹y)/∂K."""
    return md.grad(md.logdet(K_) / 2 + y.T @ md.inv(K_) @ y / 2, K_)


@pytest.mark.parametrize("sym", [False, True], ids=["K", "K symmetric"])
def test_gp_gradient_computes_one_inverse(sym: bool) -> None:
    Kx, Kv = (S, Sv) if sym else (K, Av)
    g = _gp(Kx)
    src = md.numpy_code(g, [Kx, y])
    assert src.count("np.linalg.inv(") == 1
    assert "solve" not in src and "lu_factor" not in src
    Ki = np.linalg.inv(Kv)
    want = 0.5 * (Ki.T - Ki.T @ np.outer(yv, yv) @ Ki.T)  # ½(K⁻ᵀ − K⁻ᵀyyᵀK⁻ᵀ)
    np.testing.assert_allclose(md.lambdify([Kx, y], g)(Kv, yv), want, rtol=1e-11, atol=1e-13)


def test_products_with_an_inverse_computed_anyway() -> None:
    outs = [md.inv(A), md.inv(A) @ B, C @ md.inv(A), md.inv(A).T @ b]
    src = md.numpy_code(outs, [A, B, C, b])
    assert src.count("np.linalg.inv(") == 1 and "solve" not in src
    Ai = np.linalg.inv(Av)
    got = md.lambdify([A, B, C, b], outs)(Av, Bv, Cv, bv)
    for g, w in zip(got, [Ai, Ai @ Bv, Cv @ Ai, Ai.T @ bv]):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)


def factorisations(src: str) -> int:
    """How many times the source factorises a matrix: each np.linalg.solve, np.linalg.inv and lu_factor call."""
    return sum(src.count(call) for call in ("np.linalg.solve(", "np.linalg.inv(", "lu_factor("))


def imports_of(src: str) -> list[str]:
    return [a.name for node in ast.walk(ast.parse(src)) if isinstance(node, (ast.Import, ast.ImportFrom))
            for a in node.names]


M = md.matrix("M", n, "k")  # a right-hand side of another width
Mv = RNG.standard_normal((N, 3))
R = md.matrix("R", "m", n)  # R A⁻¹: rows solved with Aᵀ
Rv = RNG.standard_normal((2, N))
VALUES = {"A": Av, "B": Bv, "C": Cv, "K": Sv, "M": Mv, "R": Rv, "b": bv, "c": cv, "y": yv}
inv, solve = np.linalg.inv, np.linalg.solve

# name: (outputs, args, the numpy references, factorisations by default (numpy alone), with lu="scipy")
CASES = {
    # two orientations: A⁻¹b and A⁻ᵀc: one solve each with numpy alone, one LU with scipy
    "A and A.T": ([md.solve(A, b), md.solve(A.T, c)], [A, b, c],
                  lambda: [solve(Av, bv), solve(Av.T, cv)], 2, 1),
    # one solve's result is another's right-hand side, and a row times A⁻¹: ∂‖A⁻¹b‖²/∂A = −2A⁻ᵀA⁻¹b (A⁻¹b)ᵀ
    "dependent": ([md.grad(md.norm2(md.solve(A, b)) ** 2, A)], [A, b],
                  lambda: [-2 * np.outer(solve(Av.T, solve(Av, bv)), solve(Av, bv))], 2, 1),
    # the VJP of aᵀA⁻¹c: −A⁻ᵀbcᵀA⁻ᵀ, a row solve (bᵀA⁻¹) and a column solve
    "row and column": ([md.grad(b.T @ md.inv(A) @ c, A)], [A, b, c],
                       lambda: [-np.outer(solve(Av.T, bv), solve(Av, cv))], 2, 1),
    # matrix right-hand sides on both sides: A⁻¹B and C A⁻¹ = (A⁻ᵀCᵀ)ᵀ
    "matrices": ([md.inv(A) @ B, C @ md.inv(A)], [A, B, C],
                 lambda: [solve(Av, Bv), solve(Av.T, Cv.T).T], 2, 1),
    # one orientation, vectors and matrices of two widths: one solve of [b c B M]
    "one orientation": ([md.solve(A, b), md.solve(A, c), md.inv(A) @ B, md.inv(A) @ M], [A, B, M, b, c],
                        lambda: [solve(Av, bv), solve(Av, cv), solve(Av, Bv), solve(Av, Mv)], 1, 1),
    # rows: bᵀA⁻¹, R A⁻¹, C A⁻¹ are all solves with Aᵀ: one solve of [b Rᵀ Cᵀ]
    "rows": ([b.T @ md.inv(A), R @ md.inv(A), C @ md.inv(A)], [A, C, R, b],
             lambda: [solve(Av.T, bv), solve(Av.T, Rv.T).T, solve(Av.T, Cv.T).T], 1, 1),
    # all four kinds: A⁻¹b, A⁻¹B (one solve), A⁻ᵀc, C A⁻¹ (another): one per orientation
    "both orientations": ([md.solve(A, b), md.inv(A) @ B, md.solve(A.T, c), C @ md.inv(A)], [A, B, C, b, c],
                          lambda: [solve(Av, bv), solve(Av, Bv), solve(Av.T, cv), solve(Av.T, Cv.T).T], 2, 1),
    # K symmetric: K⁻¹b and cᵀK⁻¹ = (K⁻¹c)ᵀ are one orientation
    "symmetric": ([md.solve(S, b), c.T @ md.inv(S)], [S, b, c], lambda: [solve(Sv, bv), solve(Sv, cv)], 1, 1),
    # A⁻¹(A⁻¹b) needs A⁻¹b first; A⁻¹c joins A⁻¹b: two solves with A
    "chain and one more": ([md.solve(A, md.solve(A, b)), md.solve(A, c)], [A, b, c],
                           lambda: [solve(Av, solve(Av, bv)), solve(Av, cv)], 2, 1),
    # bᵀA⁻¹c and its gradients −A⁻ᵀbcᵀA⁻ᵀ (Cookbook eq. 61), A⁻¹c, A⁻ᵀb: A⁻¹c is reached as a solve and as
    # (cᵀA⁻ᵀ)ᵀ, one system: solved once, not stacked twice
    "one system twice": ([b.T @ md.inv(A) @ c, md.grad(b.T @ md.inv(A) @ c, A), md.grad(b.T @ md.inv(A) @ c, b),
                          md.grad(b.T @ md.inv(A) @ c, c)], [A, b, c],
                         lambda: [bv @ solve(Av, cv), -np.outer(solve(Av.T, bv), solve(Av, cv)), solve(Av, cv),
                                  solve(Av.T, bv)], 2, 1),
    # two matrices whose solves feed each other across: A⁻¹b → B⁻¹(A⁻¹b), B⁻¹c → A⁻¹(B⁻¹c). Batching A's two
    # solves makes B⁻¹(A⁻¹b) wait for B⁻¹c: B's may then not be batched (a cycle): three solves, no deadlock
    "crossed": ([md.solve(B, md.solve(A, b)), md.solve(A, md.solve(B, c))], [A, B, b, c],
                lambda: [solve(Bv, solve(Av, bv)), solve(Av, solve(Bv, cv))], 3, 2),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_matrix_is_factorised_once(name: str) -> None:
    """The default code imports numpy alone and factorises once per matrix and orientation (solves of
    independent right-hand sides side by side); ``lu="scipy"`` factorises once per matrix. Both give numpy's
    values."""
    outs, args, want, default, with_scipy = CASES[name]
    values = [VALUES[a.name] for a in args]
    src = md.numpy_code(outs, args)
    assert imports_of(src) == ["numpy"] and "scipy" not in src
    assert factorisations(src) == default, src
    assert "np.linalg.inv" not in src
    for stacked in re.findall(r"column_stack\(\((.*?)\)\)", src):  # each right-hand side once
        parts = [p.strip() for p in stacked.split(",")]
        assert len(set(parts)) == len(parts) > 1, src
    scipy_src = md.numpy_code(outs, args, lu="scipy")
    assert imports_of(scipy_src) == ["numpy", "scipy.linalg"]
    assert scipy_src.count("lu_factor(") == with_scipy and factorisations(scipy_src) == with_scipy, scipy_src
    for lu in (None, "numpy") + (("scipy",) if HAVE_SCIPY else ()):
        got = md.lambdify(args, outs, lu=lu)(*values)
        for g, w in zip(got, want()):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_batched_solve_reads_as_one_call() -> None:
    """A⁻¹b, A⁻¹c, A⁻¹B: one np.linalg.solve of the right-hand sides side by side, split by slicing."""
    src = md.numpy_code([md.solve(A, b), md.solve(A, c), md.inv(A) @ M], [A, M, b, c])
    assert "np.linalg.solve(A, np.column_stack((b, c, M)))" in src
    assert "[:, 0]" in src and "[:, 1]" in src and "[:, 2:k + 2]" in src


def test_the_default_imports_only_numpy_though_scipy_is_installed() -> None:
    """scipy is installed here, yet the default code imports numpy alone, and runs where nothing but numpy
    (not scipy, not matderiv) can be imported."""
    pytest.importorskip("scipy.linalg")
    outs = [md.grad(b.T @ md.inv(A) @ c, A), md.solve(A, b), md.solve(A, c), md.solve(A.T, b)]
    src = md.numpy_code(outs, [A, b, c], name="g")
    assert imports_of(src) == ["numpy"]
    script = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("scipy", "matderiv", "sympy", "mpmath"):
                    raise ImportError(name)
        sys.meta_path.insert(0, Block())
        import json
        import numpy as np
        namespace = {}
        exec(sys.stdin.read(), namespace)
        A = np.array([[4.0, 1, 0], [2, 5, 1], [0, 1, 3]]); b = np.array([1.0, 2, 3]); c = np.array([0.0, 1, -1])
        print(json.dumps([np.asarray(v).tolist() for v in namespace["g"](A, b, c)]))
        """)
    done = subprocess.run([sys.executable, "-c", script], input=src, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    g, x1, x2, x3 = (np.array(v) for v in json.loads(done.stdout))
    A3, b3, c3 = np.array([[4.0, 1, 0], [2, 5, 1], [0, 1, 3]]), np.array([1.0, 2, 3]), np.array([0.0, 1, -1])
    Ai = inv(A3)
    np.testing.assert_allclose(g, -np.outer(Ai.T @ b3, Ai @ c3), rtol=1e-12)  # −A⁻ᵀbcᵀA⁻ᵀ (Cookbook eq. 61)
    for got, w in zip((x1, x2, x3), (Ai @ b3, Ai @ c3, Ai.T @ b3)):
        np.testing.assert_allclose(got, w, rtol=1e-12)


def test_a_singular_matrix_raises_linalgerror() -> None:
    """numpy's solve raises LinAlgError for a singular matrix, batched or not (the default); scipy's lu_factor
    only warns (LinAlgWarning) and the solves give inf/nan (lu="scipy")."""
    outs = [md.solve(A, b), md.solve(A, c)]
    singular, ones = np.ones((3, 3)), np.ones(3)
    with pytest.raises(np.linalg.LinAlgError):
        md.lambdify([A, b, c], outs)(singular, ones, ones)
    with pytest.raises(np.linalg.LinAlgError):
        md.lambdify([A, b], md.solve(A, b))(singular, ones)
    scipy_linalg = pytest.importorskip("scipy.linalg")
    with pytest.warns(scipy_linalg.LinAlgWarning):
        got = md.lambdify([A, b, c], outs, lu="scipy")(singular, ones, ones)
    assert not np.isfinite(got[0]).all()


def test_lu_choices_are_checked() -> None:
    with pytest.raises(md.ArgumentError, match="lu must be one of 'numpy', 'scipy', got 'lapack'"):
        md.numpy_code(md.solve(A, b), [A, b], lu="lapack")
    with pytest.raises(md.ArgumentError, match="NumPyOnly has no lu_module"):
        md.numpy_code(md.solve(A, b), [A, b], printer=NumPyOnly, lu="scipy")

    class Elsewhere(NumPyPrinter):
        lu = "scipy"
        lu_module = "no_such_module_here.linalg"
    src = md.numpy_code([md.solve(A, b), md.solve(A, c)], [A, b, c], printer=Elsewhere)  # source for elsewhere
    assert "import no_such_module_here.linalg" in src and src.count("lu_factor(") == 1
    with pytest.raises(md.ArgumentError, match="no_such_module_here.linalg, which cannot be imported"):
        md.lambdify([A, b, c], [md.solve(A, b), md.solve(A, c)], printer=Elsewhere)
    assert "lu_factor" not in md.numpy_code([md.solve(A, b), md.solve(A, c)], [A, b, c], printer=Elsewhere,
                                            lu="numpy")


def test_one_solve_is_not_factorised_apart() -> None:
    for lu in ("numpy", "scipy"):
        src = md.numpy_code(md.solve(A, b), [A, b], lu=lu)
        assert "lu_factor" not in src and "column_stack" not in src and src.count("np.linalg.solve(") == 1
