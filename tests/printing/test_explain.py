"""Issue 7 items 2 and 10: md.latex_differential in Magnus–Neudecker notation, and md.explain's step-by-step
derivations — steps by named rules with their references, the rearrangement bringing dX out, the gradient
read off (equal to md.grad), every step an equation that holds (checked in numbers: the differential of each part
against float64 central differences of that part written as numpy by the IR's hand-written interpreter), text,
LaTeX that KaTeX renders (strict mode), and the command's ``--steps``."""
from __future__ import annotations

import json

import numpy as np
import pytest

import matderiv as md
from conftest import reference
from katex import katex_errors
from matderiv.app.cli import main
from matderiv.core.expr import OPS
from matderiv.printing.explain import rule_of

X, A = md.matrix("X", "n", "n"), md.matrix("A", "n", "n")
x, a, b = md.vector("x", "n"), md.vector("a", "n"), md.vector("b", "n")
Z, y, wv = md.matrix("Z", "m", "n"), md.vector("y", "m"), md.vector("w", "n")


def test_latex_differential_in_magnus_neudecker_style() -> None:
    assert md.latex_differential(md.inv(X), X) == \
        r"\mathrm{d}\left(X^{-1}\right) = -X^{-1} \left(\mathrm{d}X\right) X^{-1}"
    assert md.latex_differential(md.det(X), X) == \
        r"\mathrm{d}\,\det\left(X\right) = \det\left(X\right) \operatorname{tr}\left(X^{-1} \mathrm{d}X\right)"
    assert md.latex_differential(x.T @ A @ x, x) == \
        r"\mathrm{d}\left(x^{\top} A x\right) = x^{\top} \left(A + A^{\top}\right) \mathrm{d}x"
    assert md.latex_differential(a.T @ X @ b, "X") == \
        r"\mathrm{d}\left(a^{\top} X b\right) = a^{\top} \left(\mathrm{d}X\right) b"
    assert md.latex_differential(X.T @ A @ X, X) == \
        r"\mathrm{d}\left(X^{\top} A X\right) = X^{\top} A \mathrm{d}X + \left(\mathrm{d}X\right)^{\top} A X"


DIFFERENTIALS = [  # issue 8 review: the product printing of md.latex (scalars lead, powers), dX bracketed
    (0.5 * x.T @ A @ x, x,
     r"\mathrm{d}\left(\frac{1}{2} x^{\top} A x\right) = \frac{1}{2} x^{\top} \left(A + A^{\top}\right) \mathrm{d}x"),
    (md.trace(X @ X @ X), X,
     r"\mathrm{d}\,\operatorname{tr}\left(X^{3}\right) = 3 \operatorname{tr}\left(X^{2} \mathrm{d}X\right)"),
    (x.T @ (2 * A) @ x, A, r"\mathrm{d}\left(2 x^{\top} A x\right) = 2 x^{\top} \left(\mathrm{d}A\right) x"),
    (md.inv(X), X, r"\mathrm{d}\left(X^{-1}\right) = -X^{-1} \left(\mathrm{d}X\right) X^{-1}"),  # Magnus–Neudecker
    (md.det(X), X,
     r"\mathrm{d}\,\det\left(X\right) = \det\left(X\right) \operatorname{tr}\left(X^{-1} \mathrm{d}X\right)"),
    (x.T @ A @ x, x, r"\mathrm{d}\left(x^{\top} A x\right) = x^{\top} \left(A + A^{\top}\right) \mathrm{d}x"),
    (md.inv(X.T), X,
     r"\mathrm{d}\left(X^{-\top}\right) = -X^{-\top} \left(\mathrm{d}X\right)^{\top} X^{-\top}"),
    (md.scalar("s") * x, "s", r"\mathrm{d}\left(s x\right) = \left(\mathrm{d}s\right) x"),
    (x * b, x, r"\mathrm{d}\left(x \odot b\right) = b \odot \mathrm{d}x"),
]


@pytest.mark.parametrize("f,w,tex", DIFFERENTIALS, ids=[t.split(" = ")[0] for _, _, t in DIFFERENTIALS])
def test_latex_differential_prints_products_as_latex_does(f: md.Expr, w: object, tex: str) -> None:
    assert md.latex_differential(f, w) == tex


def test_a_differential_followed_by_a_factor_is_bracketed() -> None:
    from matderiv.printing.differential import latex_d
    dx, dX = md.vector("dx", "n"), md.matrix("dX", "n", "n")
    d = {dx: x, dX: X}
    assert latex_d(md.mul(dx, b), d) == r"\left(\mathrm{d}x\right) \odot b"
    assert latex_d(md.matmul(dX, dX), d) == r"\left(\mathrm{d}X\right)^{2}"  # not d(X²)
    assert latex_d(md.matmul(X, dX, X, dX), d) == \
        r"X \left(\mathrm{d}X\right) X \mathrm{d}X"


def test_explain_prints_products_as_latex_does() -> None:
    lines = md.explain(md.trace(X @ X @ X), X).latex().splitlines()
    assert lines[1] == (r"1. & \mathrm{d}\left(X^{3}\right) = X^{2} \mathrm{d}X + X \left(\mathrm{d}X\right) X + "
                        r"\left(\mathrm{d}X\right) X^{2} & \text{Product rule (C 37, Giles \S 2.2)} \\")
    assert lines[-2] == (r"6. & \frac{\partial f}{\partial X} = 3 \left(X^{\top}\right)^{2} & "
                         r"\text{read off the gradient (Magnus \& Neudecker)}")


def test_every_jvp_rule_is_stated_with_a_name() -> None:
    """md.explain prints each op's rule from its JVP's docstring "Name: statement (reference).": every op has one."""
    for op, spec in OPS.items():
        if spec.jvp is None:
            continue
        name, statement, _ = rule_of(op)
        assert name and name[0].isupper() and "d" in statement, (op, name, statement)
    assert rule_of("inv") == ("Inverse rule", "d(X⁻¹) = −X⁻¹ (dX) X⁻¹ (C 40, Giles §2.2).", "C 40, Giles §2.2")
    assert rule_of("det")[0] == "Jacobi's formula" and rule_of("det")[2] == "C 42, Giles §2.2"


CASES = [
    (x.T @ A @ x, x), (md.logdet(X), X), (md.norm2(A @ x - b) ** 2, x), (a.T @ X @ b, X),
    (md.sum(md.log(1 + md.exp(-y * (Z @ wv)))), wv), (md.trace(X @ A @ X.T), X), (md.logsumexp(A @ x), x),
    (md.det(X) * md.trace(md.inv(X) @ A), X), (md.sum(md.cholesky(X @ X.T + md.eye("n"))), X),
]
IDS = ["xAx", "logdet", "lsq", "aXb", "logistic", "trXAX", "lse", "det*tr", "chol"]


@pytest.mark.parametrize("f,w", CASES, ids=IDS)
def test_explain_steps_hold_and_end_in_the_gradient(f: md.Expr, w: md.Expr) -> None:
    e = md.explain(f, w)
    assert e.result == md.grad(f, w)
    kinds = [s.kind for s in e.steps]
    assert kinds[-1] == "gradient" and e.steps[-1].rhs == e.result
    assert "differential" in kinds
    rng = np.random.default_rng(0)
    sizes = {"n": 3, "m": 5}
    env = {s.name: (2 * np.eye(3) + 0.3 * rng.standard_normal((3, 3)) if s.name == "X" else
                    rng.standard_normal(tuple(int(str(d)) if str(d).isdigit() else sizes[str(d)] for d in s.shape)))
           for s in f.free_symbols}
    dname = "d" + w.name
    D = rng.standard_normal(env[w.name].shape)
    h = 1e-6
    for s in e.steps:
        if s.kind == "differential":  # d(part)[D] against central differences of the part itself
            got = reference(s.rhs, env | {dname: D}, sizes)
            want = (reference(s.lhs, env | {w.name: env[w.name] + h * D}, sizes)
                    - reference(s.lhs, env | {w.name: env[w.name] - h * D}, sizes)) / (2 * h)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        elif s.kind == "rearrange":  # the two sides are equal for any dX
            np.testing.assert_allclose(reference(s.lhs, env | {dname: D}, sizes),
                                       reference(s.rhs, env | {dname: D}, sizes), rtol=1e-10, atol=1e-12)
    df = [s for s in e.steps if s.kind == "differential"][-1]
    assert df.lhs == md.simplify(f)
    # the collected ⟨G, dX⟩ is the differential: ⟨G, D⟩ = df[D]
    g = reference(e.result, env, sizes)
    np.testing.assert_allclose(float(np.sum(g * D)), float(reference(df.rhs, env | {dname: D}, sizes).item()),
                               rtol=1e-10, atol=1e-12)


def test_explain_text_names_rules_references_and_the_rearrangement() -> None:
    e = md.explain(x.T @ A @ x, x)
    text = str(e)
    assert text.splitlines()[0] == "∂f/∂x for f = x.T @ A @ x, x (n×1):"
    assert "1. d(x.T @ A @ x) = dx.T @ A @ x + x.T @ A @ dx    [Product rule:" in text
    assert "(C 37, Giles §2.2)" in text
    assert "2. dx.T @ A @ x = x.T @ A.T @ dx    [a scalar is its own transpose" in text
    assert "3. df = x.T @ (A + A.T) @ dx" in text
    assert text.splitlines()[-1].startswith("4. ∂f/∂x = (A + A.T) @ x")
    assert [s.kind for s in e.steps] == ["differential", "rearrange", "collect", "gradient"]
    t = str(md.explain(md.trace(X @ A @ X.T), X))
    assert "the trace is cyclic" in t and "Trace rule: d tr X = tr dX (C 36)" in t
    assert e._repr_latex_().startswith(r"$\displaystyle \begin{array}{rll}")


def test_explain_of_a_non_scalar_or_a_constant() -> None:
    with pytest.raises(md.DerivativeError, match="scalars"):
        md.explain(A @ x, x)
    e = md.explain(md.det(A), X)
    assert e.result == md.zeros("n", "n") and len(e.steps) == 1


def test_katex_renders_explanations_and_differentials() -> None:
    xs = [md.explain(f, w).latex() for f, w in CASES]
    xs += [md.latex_differential(f, w) for f, w in CASES]
    xs += [md.latex_differential(F, X) for F in (md.inv(X), md.cholesky(X), md.softmax(X, axis=1), X @ X)]
    xs += [t for _, _, t in DIFFERENTIALS]
    assert katex_errors(xs) == []


def test_cli_grad_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grad", "x'*A*x", "--wrt", "x", "--steps", "--no-check", "--format", "text"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "∂f/∂x for f = x'*A*x, x (n×1):"
    assert out[1].startswith("1. d(x'*A*x) = dx'*A*x + x'*A*dx    [Product rule:")
    assert out[4].startswith("4. ∂f/∂x = (A + A')*x")
    assert out[-1] == "df/dx = (A + A')*x"  # the result, labelled
    assert main(["grad", "logdet(X)", "--wrt", "X", "--steps", "--no-check", "--format", "json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["steps"]["X"][0].startswith("d(logdet(X)) = tr(inv(X)*dX)    [Log-determinant rule")
    assert main(["grad", "logdet(X)", "--wrt", "X", "--steps", "--no-check", "--format", "latex"]) == 0
    assert capsys.readouterr().out.startswith("\\begin{array}{rll}\n1. & \\mathrm{d}\\,\\log\\det")
    assert main(["grad", "A*x", "--wrt", "x", "--seed", "u", "--steps"]) == 2
    assert "--steps" in capsys.readouterr().err


def test_the_label_is_the_rearrangement_applied() -> None:
    """tr(A⁻¹ dA A⁻¹ B) → tr(A⁻¹BA⁻¹ dA) is the cyclic trace (a number times a trace is no entrywise product);
    sum(B ⊙ dX) → tr(BᵀdX) is the entrywise inner product; dxᵀAx → xᵀAᵀdx a scalar's transpose."""
    B = md.matrix("B", "n", "n")
    labels = lambda f, w: [s.rule for s in md.explain(f, w).steps if s.kind == "rearrange"]  # noqa: E731
    assert labels(md.trace(md.inv(A) @ B), A) == ["the trace is cyclic"]
    assert labels(-md.trace(md.inv(A) @ B), A) == ["the trace is cyclic"]
    assert labels(md.sum(B * X), X) == ["the Frobenius inner product is entrywise"]
    assert labels(md.sum(md.exp(X)), X) == ["the Frobenius inner product is entrywise"]
    assert labels(x.T @ A @ x, x) == ["a scalar is its own transpose"]
    assert labels(md.trace(X.T @ B), X) == ["the trace is cyclic"]


def test_symmetric_variable_step() -> None:
    """For symmetric S: tr(A dS) is rearranged by no identity of the trace but by dS = dSᵀ: a "symmetric" step
    df = ½ tr((A + Aᵀ) dS), which holds for symmetric D and not for a general one (A ≠ Aᵀ); tr(SAS): the cyclic
    step, the collected tr((AS + SA) dS), then ⟨sym G, dS⟩. Checked in numbers."""
    S = md.symmetric("S", "n")
    rng = np.random.default_rng(4)
    c = rng.standard_normal((3, 3))
    env = {"A": rng.standard_normal((3, 3)), "S": c @ c.T + np.eye(3)}
    d = rng.standard_normal((3, 3))
    Ds, Dg = (d + d.T) / 2, d
    for f, kinds in ((md.trace(A @ S), ["differential", "differential", "symmetric", "gradient"]),
                     (md.trace(S @ A @ S), ["differential", "differential", "rearrange", "collect", "symmetric",
                                             "gradient"])):
        e = md.explain(f, S)
        assert [s.kind for s in e.steps] == kinds and e.result == md.grad(f, S)
        sym = next(s for s in e.steps if s.kind == "symmetric")
        assert sym.rule == "symmetric variable" and "sym G" in sym.statement
        df = [s for s in e.steps if s.kind == "differential"][-1].rhs
        val = lambda ex, D: float(reference(ex, env | {"dS": D}, {"n": 3}).item())  # noqa: E731
        assert abs(val(sym.rhs, Ds) - val(df, Ds)) < 1e-12
        assert abs(val(sym.rhs, Dg) - val(df, Dg)) > 1e-3
        for s in e.steps:
            if s.kind in ("rearrange", "collect"):  # these hold for every dS, symmetric or not
                assert abs(val(s.rhs, Dg) - val(df if s.kind == "collect" else s.lhs, Dg)) < 1e-12
    assert katex_errors([md.explain(md.trace(S @ A @ S), S).latex()]) == []


def test_explain_uses_the_public_forward_sweep() -> None:
    """md.ad.jvp_raw's per-node callback: children first, every non-symbol node with a tangent, its return value
    carried on; explain.py imports no private name of ad.py."""
    import inspect

    import matderiv.printing.explain as ex
    from matderiv.ad import jvp_raw
    V = md.matrix("V", "n", "n")
    seen: list[md.Expr] = []

    def visit(n: md.Expr, t: md.Expr) -> md.Expr:
        seen.append(n)
        return md.simplify(t)
    f = md.trace(md.inv(X) @ A)
    got = jvp_raw(f, {X: V}, visit)
    assert seen == [md.inv(X), md.inv(X) @ A, f]
    assert md.simplify(got) == md.simplify(-md.trace(md.inv(X) @ V @ md.inv(X) @ A))
    src = inspect.getsource(ex)
    assert "_inner" not in src and "OPS[n.op].jvp" not in src
