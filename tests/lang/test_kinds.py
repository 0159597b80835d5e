"""Kinds inferred from use (issue 8, item 5): a Greek name — a scalar by default — is a vector where its use says so
(transposed; a row times it; added to or subtracted from a vector in a sum used as a vector — normed, transposed or
a factor of a product; the one fix of a shape conflict), the command's shapes line says
where a default or a use decided a kind, and errors a default may have caused name the undeclared kinds.

Derivatives of the inferred expressions are compared with hand-derived gradients (Matrix Cookbook) in numpy."""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md
from matderiv.app.cli import main
from matderiv.lang import parse_kinds

RNG = np.random.default_rng(0)
N, M = 4, 3


def shapes(text: str) -> dict[str, tuple[str, str]]:
    e = md.parse(text)
    return {s.name: (str(s.shape[0]), str(s.shape[1])) for s in e.free_symbols}


# ---- the issue's examples ------------------------------------------------------------------------------------------
def test_a_transposed_greek_name_is_a_vector() -> None:
    e, kinds = parse_kinds("alpha'*K*alpha")
    assert e.is_scalar
    alpha, K = md.vector("alpha", "n"), md.matrix("K", "n", "n")
    assert e == alpha.T @ K @ alpha
    assert kinds["alpha"].kind == "vector" and kinds["alpha"].source == "inferred"
    assert "transposed in `alpha'`" in kinds["alpha"].why
    g = md.lambdify([alpha, K], md.grad(e, "alpha"))
    a, k = RNG.standard_normal(N), RNG.standard_normal((N, N))
    np.testing.assert_allclose(g(a, k), (k + k.T) @ a, rtol=1e-12)  # C 81


def test_norm_of_x_minus_mu_makes_mu_a_vector() -> None:
    e, kinds = parse_kinds("norm2(x-mu)^2")
    x, mu = md.vector("x", "n"), md.vector("mu", "n")
    assert e == md.norm2(x - mu) ** 2
    assert kinds["mu"].source == "inferred" and "subtracted from a vector" in kinds["mu"].why
    g = md.lambdify([x, mu], md.grad(e, "mu"))
    xv, mv = RNG.standard_normal(N), RNG.standard_normal(N)
    np.testing.assert_allclose(g(xv, mv), -2 * (xv - mv), rtol=1e-12)  # not a sum: d/dmu is a vector


@pytest.mark.parametrize("text,vectors", [
    ("theta'*x", {"theta"}),
    ("x'*theta", {"theta"}),                                      # a row times it: the inner product xᵀθ
    ("x'*A*theta", {"theta"}),
    ("x'*theta*2 + 1", {"theta"}),                                # then scaled: still the row times theta
    ("x'*theta*lambda", {"theta"}),                               # the first product read decides
    ("(x-mu)'*inv(Sigma)*(x-mu)", {"mu"}),
    ("-0.5*(x-mu)'*inv(Sigma)*(x-mu) - 0.5*logdet(Sigma)", {"mu"}),
    ("norm2(mu - x)", {"mu"}),                                    # the sum normed
    ("norm2(x - (mu + nu))^2", {"mu", "nu"}),                     # every Greek term of the normed sum
    ("a'*(x + 2*mu)", {"mu"}),                                    # the sum a factor of a product
    ("(x - mu/2)'*y", {"mu"}),                                    # the sum transposed
    ("norm2(x + -mu)", {"mu"}),
    ("norm2(A*(x - mu))", {"mu"}),
    ("norm2(y - X*beta)^2", {"beta"}),                            # the one kind that fits
    ("norm2(X*beta - y)^2 + lambda*norm2(beta)^2", {"beta"}),     # ridge: lambda stays the scalar
    ("sum(log(sigmoid(y .* (X*theta))))", {"theta"}),
    ("norm2(y - X*beta - Z*gamma)^2", {"beta", "gamma"}),         # the one smallest pair
    ("alpha'*K*alpha + sigma^2*alpha'*alpha", {"alpha"}),
])
def test_greek_vectors_inferred(text: str, vectors: set[str]) -> None:
    e, kinds = parse_kinds(text)
    assert e.is_scalar
    inferred = {n for n, k in kinds.items() if k.source == "inferred"}
    assert inferred == vectors
    for n in vectors:
        assert kinds[n].kind == "vector"
        s = next(s for s in e.free_symbols if s.name == n)
        assert s.shape[1] == 1 and s.shape[0] != 1


@pytest.mark.parametrize("text,scalars", [
    ("lambda*x'*x", {"lambda"}),                 # MatrixCalculus.org's example: lambda scales
    ("exp(-beta*x)", {"beta"}),
    ("x/sigma", {"sigma"}),
    ("sigma^2*eye + K", {"sigma"}),
    ("alpha*x + beta*y", {"alpha", "beta"}),
    ("X - mu", {"mu"}),                          # added to a matrix: a scalar broadcast, as declared by default
    ("x'*x + mu", {"mu"}),                       # added to a scalar
    ("alpha - beta", {"alpha", "beta"}),
    ("x .* gamma", {"gamma"}),                   # elementwise scaling keeps the default
    # a scalar offset of a vector (review D): in elementwise functions, elementwise products, sums of entries
    ("sum(log(x + epsilon))", {"epsilon"}),
    ("sum(exp(x - alpha))", {"alpha"}),
    ("x - mu", {"mu"}),
    ("mu - x", {"mu"}),
    ("exp(x - alpha) .* y", {"alpha"}),
    ("sum((x - mu).^2)", {"mu"}),
    ("norm2((x - mu) .* y)", {"mu"}),            # the normed vector is the product, not the sum
    ("(X - mu)'", {"mu"}),                       # a matrix's offset, transposed
    ("(x - mu)*sigma", {"mu", "sigma"}),         # scaled, not a product with a vector or a matrix
    ("norm1(x - mu)", {"mu"}),                   # Σ|xᵢ − μ|: only norm2's argument is read as a vector
    ("theta*x'", {"theta"}),                     # a row scaled from the left
    ("x'*lambda*y", {"lambda"}),                 # λxᵀy: the row times lambda is multiplied on by a vector
    ("x'*theta*A", {"theta"}),                   # … or by a matrix
])
def test_greek_scalars_kept(text: str, scalars: set[str]) -> None:
    e, kinds = parse_kinds(text)
    for n in scalars:
        assert kinds[n].kind == "scalar" and kinds[n].source == "default"
        assert kinds[n].note(n) == f"scalar, the default for Greek names; write `where {n}: vector` to change it"


def test_declarations_win_over_inference() -> None:
    e, kinds = parse_kinds("x - mu where mu: scalar")
    assert kinds["mu"].source == "declared" and e.shape == (md.vector("x", "n").shape)
    e, kinds = parse_kinds("alpha'*K*alpha", alpha="scalar")  # declared a scalar: α²K, as written
    assert kinds["alpha"].source == "declared" and e.shape == md.matrix("K", "n", "m").shape
    assert not md.parse("alpha'*K*alpha where alpha: matrix").is_scalar


def test_non_greek_names_keep_their_defaults() -> None:
    """Lower-case names stay vectors, upper-case matrices: only Greek names' kinds are inferred."""
    e, kinds = parse_kinds("a'*X*b")
    assert [kinds[n].source for n in ("a", "X", "b")] == ["default"] * 3
    assert all(kinds[n].note(n) == "" for n in kinds)


def test_a_conflict_no_greek_vector_fixes_is_the_error() -> None:
    """alpha*x + beta': beta' is a row (beta is transposed), and no Greek vector makes a row and a column fit; the
    error names the kinds that were not declared, the default and the inferred one."""
    with pytest.raises(md.ShapeError) as info:
        md.parse("alpha*x + beta'")
    msg = str(info.value)
    assert "kinds not declared" in msg and "alpha scalar (Greek names)" in msg and "beta vector (inferred" in msg
    assert "`where alpha: vector`" in msg


def test_ambiguous_fix_is_refused() -> None:
    """y - (X*alpha)*beta: alpha or beta, either one alone as a vector, fits — two answers, so neither is chosen."""
    with pytest.raises(md.ShapeError) as info:
        md.parse("y - X*alpha*beta")
    assert "alpha scalar (Greek names)" in str(info.value) and "beta scalar (Greek names)" in str(info.value)


def test_shape_errors_name_defaulted_kinds() -> None:
    with pytest.raises(md.ShapeError) as info:
        md.parse("x*y")
    msg = str(info.value)
    assert "x vector (lower-case names), y vector (lower-case names)" in msg
    assert info.value.column == 2  # type: ignore[attr-defined]
    with pytest.raises(md.ShapeError) as info:
        md.parse("x*y where x: vector, y: vector")
    assert "kinds not declared" not in str(info.value)


def test_roundtrip_keeps_a_scalar_mu_scalar() -> None:
    """to_text declares a Greek scalar where use would otherwise make it a vector, and a Greek vector where the
    default would stand."""
    x, mu = md.vector("x", "n"), md.scalar("mu")
    for e in (x - mu, md.norm2(x - mu) ** 2, mu * x + x, x.T @ (x - mu)):
        assert md.parse(md.to_text(e)) == e
    m, y = md.vector("mu", "n"), md.vector("y", "m")
    for e in (x - m, md.norm2(x - m) ** 2, md.sum(md.exp(x - m)), x.T @ m * y):
        assert md.parse(md.to_text(e)) == e
    assert md.to_text(x - m) == "x - mu where mu: vector"


# ---- the command --------------------------------------------------------------------------------------------------
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def shapes_of(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("shapes")).split(None, 1)[1]


def test_shapes_line_says_where_a_default_decided(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "grad", "mu'*x + lambda*norm2(mu)^2", "--no-check")
    assert rc == 0
    line = shapes_of(out)
    assert "mu: n×1 (a vector: transposed in `mu'`)" in line
    assert "lambda: 1×1 (scalar, the default for Greek names; write `where lambda: vector` to change it)" in line
    assert "x: n×1," in line  # a lower-case vector: the convention, no note


def test_shapes_line_of_the_issue_examples(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "grad", "alpha'*K*alpha", "--wrt", "alpha", "--dps", "20")
    assert rc == 0
    assert shapes_of(out) == "alpha: n×1 (a vector: transposed in `alpha'`), K: n×n"
    assert "dfdalpha" in out.replace("/", "") or "df/dalpha" in out
    rc, out, _ = run(capsys, "grad", "norm2(x-mu)^2", "--wrt", "mu", "--format", "text")
    assert rc == 0 and out.strip() == "-2*(x - mu) where mu: vector"  # as text that parses back: x - mu alone is
    #                                                                   the scalar offset
    rc, out, _ = run(capsys, "grad", "x'*x + mu", "--no-check")
    assert "mu: 1×1 (scalar, the default for Greek names; write `where mu: vector` to change it)" in shapes_of(out)
    rc, out, _ = run(capsys, "grad", "norm2(x-mu)^2", "--where", "mu: scalar", "--no-check")
    assert shapes_of(out) == "x: n×1, mu: 1×1"  # declared: nothing to say


def test_grad_of_a_non_scalar_names_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "grad", "alpha*K")
    assert rc == 2
    assert "not a scalar" in err and "alpha scalar (Greek names)" in err and "K matrix (upper-case names)" in err
    rc, _, err = run(capsys, "grad", "x'*A*x + c")
    assert rc == 2 and "c vector (lower-case names)" in err


@pytest.mark.parametrize("text", [
    "x'*A*x", "norm2(X*w-y)^2", "sum(log(exp(-y.*(X*w)) + vector(1)))", "exp(x'*A*x)", "tr(X'*A*X)",
    "x'*A*x + lambda*norm2(x)^2", "log(det(X'*C*X))", "sum(exp(X*w))",
])
def test_matrixcalculus_org_examples_keep_their_kinds(text: str) -> None:
    """MatrixCalculus.org's example inputs: nothing is inferred (no Greek vector), every result is a scalar."""
    e, kinds = parse_kinds(text)
    assert e.is_scalar
    assert all(k.source == "default" for k in kinds.values())
    assert all(k.kind == ("scalar" if n == "lambda" else "matrix" if n[0].isupper() else "vector")
               for n, k in kinds.items())


# ---- the failing operation's text is a typed attribute of ShapeError (review finding G) ----------------------------
def test_shape_error_span_is_a_declared_attribute() -> None:
    """ShapeError declares ``span`` (None unless the text language located the error); md.parse sets it to the text
    of the failing operation, and the message is the one the language always gave."""
    assert md.ShapeError("plain").span is None
    assert "span" in md.ShapeError.__annotations__
    with pytest.raises(md.ShapeError) as info:
        md.parse("a'*b + x*y")
    assert info.value.span == "x*y"
    assert str(info.value).startswith("cannot multiply 'x' (m×1) @ 'y' (k×1): 1 ≠ k (for two vectors,")


# ---- the kinds tail only where a kind may be the cause (review finding I) ------------------------------------------
@pytest.mark.parametrize("text,message", [
    ("X^1000", "the matrix power 1000 is too large (at most 100) (column 2)"),
    ("X^2.5", "'^' of the matrix 'X' (n×m) needs a whole-number exponent (a matrix power); use '.^' for the "
              "elementwise power (column 2)"),
    ("sum(softmax(X,2))", "softmax: axis must be 0 or 1, got 2 (column 5)"),
    ("sum(X, 3)", "sum: axis must be 0 or 1, got 3 (column 1)"),
])
def test_errors_no_kind_causes_have_no_kinds_tail(text: str, message: str) -> None:
    with pytest.raises(md.ShapeError) as info:
        md.parse(text)
    assert str(info.value).splitlines()[0] == message


@pytest.mark.parametrize("text,tail", [
    ("softmax(X)", "X matrix (upper-case names)"),                  # X declared a vector would fit
    ("x^2", "x vector (lower-case names)"),                          # x a scalar would fit
    ("x/y", "x vector (lower-case names), y vector (lower-case names)"),
    ("sum(x, 1)", "x vector (lower-case names)"),                    # a vector has one axis: a matrix would fit
    ("X ./ y", "X matrix (upper-case names), y vector (lower-case names)"),
])
def test_shape_clashes_keep_the_kinds_tail(text: str, tail: str) -> None:
    with pytest.raises(md.ShapeError) as info:
        md.parse(text)
    assert f"— kinds not declared: {tail}; to change one, declare it:" in str(info.value)


# ---- a Greek name in a sum with a vector: a vector only where the sum is used as a vector (review D) ----------------
def grad_at(text: str, wrt: str, **values: np.ndarray) -> np.ndarray:
    """md.grad of the parsed text with respect to ``wrt``, evaluated in float64 at ``values`` (by name)."""
    e = md.parse(text)
    syms = sorted(e.free_symbols, key=lambda s: s.name)
    f = md.lambdify(syms, md.grad(e, wrt))
    return np.asarray(f(*(values[s.name] for s in syms)), dtype=float)


def test_scalar_offsets_stay_scalars() -> None:
    """The broadcast idiom keeps its meaning: d/dε Σ log(x + ε) = Σ 1/(x + ε), d/dα Σ exp(x − α) = −Σ exp(x − α)
    (scalars: one number each)."""
    x = RNG.uniform(1, 2, N)
    eps, alpha = np.array(0.3), np.array(0.7)
    g = grad_at("sum(log(x + epsilon))", "epsilon", x=x, epsilon=eps)
    np.testing.assert_allclose(g, np.sum(1 / (x + eps)), rtol=1e-12)
    g = grad_at("sum(exp(x - alpha))", "alpha", x=x, alpha=alpha)
    np.testing.assert_allclose(g, -np.sum(np.exp(x - alpha)), rtol=1e-12)
    rc_shape = md.parse("x - mu").shape
    assert rc_shape == md.vector("x", "n").shape  # x − μ1, a vector of x's length


def test_normed_sum_of_two_greek_names() -> None:
    """norm2(x − (μ + ν))²: both are vectors; d/dμ = d/dν = −2(x − μ − ν)."""
    x, mu, nu = (RNG.standard_normal(N) for _ in range(3))
    for wrt in ("mu", "nu"):
        g = grad_at("norm2(x - (mu + nu))^2", wrt, x=x, mu=mu, nu=nu)
        np.testing.assert_allclose(g, -2 * (x - mu - nu), rtol=1e-12)
    _, kinds = parse_kinds("norm2(x - (mu + nu))^2")
    assert kinds["nu"].why == "subtracted from a vector in the norm `norm2(x - (mu + nu))`"


def test_mahalanobis_mu_gradient() -> None:
    """d/dμ (x − μ)ᵀ Σ⁻¹ (x − μ) = −(Σ⁻¹ + Σ⁻ᵀ)(x − μ) (Cookbook eq. 86 with the chain rule)."""
    x, mu = RNG.standard_normal(N), RNG.standard_normal(N)
    S = RNG.standard_normal((N, N)) + N * np.eye(N)
    g = grad_at("(x-mu)'*inv(Sigma)*(x-mu)", "mu", x=x, mu=mu, Sigma=S)
    Si = np.linalg.inv(S)
    np.testing.assert_allclose(g, -(Si + Si.T) @ (x - mu), rtol=1e-10)
    _, kinds = parse_kinds("(x-mu)'*inv(Sigma)*(x-mu)")
    assert kinds["mu"].why == "subtracted from a vector in the transpose `(x-mu)'`"


def test_a_factor_of_a_product() -> None:
    """d/dμ aᵀ(x + 2μ) = 2a: μ a vector because the sum is a factor of a product."""
    a, x, mu = (RNG.standard_normal(N) for _ in range(3))
    np.testing.assert_allclose(grad_at("a'*(x + 2*mu)", "mu", a=a, x=x, mu=mu), 2 * a, rtol=1e-12)
    _, kinds = parse_kinds("a'*(x + 2*mu)")
    assert kinds["mu"].why == "added to a vector in the product `a'*(x + 2*mu)`"


# ---- a row times a Greek name (review J) ---------------------------------------------------------------------------
def test_a_row_times_a_greek_name() -> None:
    """x'*theta is xᵀθ, as theta'*x is θᵀx: d/dθ = x; x'*A*theta: d/dθ = Aᵀx (Cookbook eq. 70)."""
    x, theta = RNG.standard_normal(N), RNG.standard_normal(N)
    A = RNG.standard_normal((N, N))
    np.testing.assert_allclose(grad_at("x'*theta", "theta", x=x, theta=theta), x, rtol=1e-12)
    np.testing.assert_allclose(grad_at("x'*A*theta", "theta", x=x, A=A, theta=theta), A.T @ x, rtol=1e-12)
    _, kinds = parse_kinds("x'*theta")
    assert kinds["theta"].note("theta") == "a vector: a row times it in `x'*theta`"


def test_a_row_times_a_scalar_multiplied_on_stays_scalar() -> None:
    """x'*lambda*y is λxᵀy (lambda scales a row that then multiplies y): d/dλ = xᵀy."""
    x, y = RNG.standard_normal(N), RNG.standard_normal(N)
    g = grad_at("x'*lambda*y", "lambda", x=x, y=y, **{"lambda": np.array(0.4)})
    np.testing.assert_allclose(g, x @ y, rtol=1e-12)


# ---- docs/language.md's kinds section runs as shown (review H) -----------------------------------------------------
def test_language_doc_kinds_examples_run() -> None:
    """The python blocks of "Kinds inferred from use" in docs/language.md run and print what they show (doctest),
    and the section says that md.parse itself is silent about inferred kinds."""
    import doctest
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text(encoding="utf-8")
    section = text[text.index("### Kinds inferred from use"):text.index("## Inference of dimensions")]
    assert "`md.parse` returns the expression only and says nothing about the kinds it inferred" in section
    blocks = re.findall(r"^```python\n(.*?)^```", section, flags=re.M | re.S)
    assert blocks and "md.lang.parse_kinds(" in blocks[0]
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "kinds", "docs/language.md", 0)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=report.append)
    assert runner.failures == 0 and runner.tries >= 7, "".join(report)
