"""The text language reads the op registry: its functions are core.spec.FUNCTIONS, dimension inference runs each
op's own shape rule (so inference and construction agree on every result shape and on every failure), and an op
registered with ``defop(..., lang=...)`` is in the language with no edit to matderiv/lang.
"""
from __future__ import annotations

import importlib
from itertools import product
from typing import Any, Iterator

import pytest
import sympy

import matderiv as md
from matderiv.core import spec
from matderiv.core.dims import ONE, Shape, as_dim
from matderiv.core.expr import OPS, Expr
from matderiv.core.spec import FUNCTIONS, LangFunction, ShapeAlgebra, defop, node
from matderiv.lang import syntax

parse_module = importlib.import_module("matderiv.lang.parse")  # (matderiv.lang.parse is also the function)

CONSTANTS = ("vector(c)", "matrix(c)", "eye")


def caret_column(msg: str) -> int:
    """The 1-based column the caret line points at (the line above it is the quoted source, indented by 2)."""
    lines = msg.splitlines()
    return lines[-1].index("^") - 2 + 1


# ---- one function table ------------------------------------------------------------------------------------------------
def test_the_functions_are_the_registrys() -> None:
    with pytest.raises(md.ParseError) as info:
        md.parse("arcsin(x)")
    listed = str(info.value).split("the functions are: ")[1].split(" (column")[0].split(", ")
    assert listed == sorted(FUNCTIONS) + list(CONSTANTS)
    assert {op.lang for op in OPS.values() if op.lang} <= set(FUNCTIONS)
    assert parse_module.FUNCTIONS is FUNCTIONS and not hasattr(syntax, "FUNCTIONS")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_bare_function_name_needs_its_argument(name: str) -> None:
    with pytest.raises(md.ParseError, match=f"the function '{name}' needs an argument"):
        md.parse(f"x + {name}")


def test_to_text_names_ops_by_their_spec() -> None:
    n = as_dim("n")
    X, v = md.matrix("X", n, n), md.vector("v", n)
    assert md.to_text(md.trace(X)) == "tr(X)"  # the op trace's lang
    assert md.to_text(md.diag(X)) == "diag(X)"  # diagpart: the composite diag builds it
    assert md.to_text(md.diag(v)) == "diag(v)"


# ---- a new op is in the language with no edit to it ------------------------------------------------------------------
@pytest.fixture
def registered() -> Iterator[None]:
    """Registers the stand-in ops colsums (lang "foo") and reduce (lang "bar", params ("axis",)); removes them."""
    def colsums_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
        d.square(shapes[0])
        return (d.one, shapes[0][1])

    def reduce_shape(d: ShapeAlgebra, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> Shape:
        (r, c), axis = shapes[0], (params[0] if params else None)
        if axis not in (None, 0, 1):
            d.fail(f"{{op}}: the axis of {{0}} is 0 or 1, not {axis}")
        return (d.one, d.one) if axis is None else (d.one, c) if axis == 0 else (r, d.one)

    before = (dict(OPS), dict(FUNCTIONS), dict(spec._ARITY))
    defop("colsums", colsums_shape, arity=1, lang="foo", text="colsums({0})")
    defop("reduce", reduce_shape, arity=1, lang="bar", params=("axis",),
          text="reduce({0})")
    try:
        yield
    finally:
        for table, old in zip((OPS, FUNCTIONS, spec._ARITY), before):
            table.clear()
            table.update(old)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("registered")
def test_a_new_op_is_parsed_inferred_and_built() -> None:
    n, k = as_dim("n"), as_dim("k")
    X = md.matrix("X", n, n)
    assert md.parse("foo(X)") == node("colsums", (X,))
    assert md.parse("foo(X)").shape == (ONE, n)
    # its result shape drives inference: y gets X's size, A gets the row's length as its rows
    assert md.parse("foo(X)*y").shape == (ONE, ONE)
    assert md.parse("foo(X)*y") == md.matmul(node("colsums", (X,)), md.vector("y", n))
    Xk = md.matrix("X", k, k)
    assert md.parse("foo(X)' + x where x: vector(k)") == md.transpose(node("colsums", (Xk,))) + md.vector("x", k)
    e = md.parse("foo(X + Y)")
    assert md.to_text(e) == "foo(X + Y)" and md.parse(md.to_text(e)) == e


@pytest.mark.usefixtures("registered")
def test_a_new_ops_failing_shape_is_a_located_error() -> None:
    with pytest.raises(md.ShapeError) as info:
        md.parse("x + foo(B) where B: matrix(2, 3)")
    msg = str(info.value)
    assert "foo needs a square matrix, got 'B' (2×3)" in msg
    assert info.value.column == 5 and caret_column(msg) == 5  # type: ignore[attr-defined]
    with pytest.raises(md.ParseError, match="foo takes 1 argument: foo"):
        md.parse("foo(X, Y)")
    with pytest.raises(md.ArgumentError, match="'foo' is a built-in function"):
        md.parse("foo(x)", foo=lambda t: t)


@pytest.mark.usefixtures("registered")
def test_parameters_are_trailing_whole_numbers() -> None:
    n, m = as_dim("n"), as_dim("m")
    X = md.matrix("X", n, m)
    assert md.parse("bar(X)") == node("reduce", (X,))
    assert md.parse("bar(X, 0)") == node("reduce", (X,), (0,))
    assert md.parse("bar(X, 0)").shape == (ONE, m)
    assert md.parse("bar(X, 1)").shape == (n, ONE)
    assert md.parse("bar(X, 0)*x") == md.matmul(node("reduce", (X,), (0,)), md.vector("x", m))  # x: X's columns
    assert md.parse("bar(X, 1) + x").shape == (n, ONE)
    for text in ("bar(X)", "bar(X, 0)", "bar(X, 1)'*x", "bar(exp(X), 1) + 2"):
        e = md.parse(text)
        assert md.parse(md.to_text(e)) == e
    assert md.to_text(md.parse("bar(X, 1)")) == "bar(X, 1)"


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize("text,cls,column,words", [
    ("x + bar(X, 2)", md.ShapeError, 5, "bar: the axis of 'X' (m×k) is 0 or 1, not 2"),
    ("bar(X, n)", md.ParseError, 8, "the axis of bar is a whole number written as a literal, like bar(A, 1)"),
    ("bar(X, 1.5)", md.ParseError, 8, "whole number"),
    ("bar(X, 1/2)", md.ParseError, 8, "whole number"),
    ("bar(X, 0, 1)", md.ParseError, 1, "bar takes 1 argument and then, optionally, its parameter axis (whole "
                                       "numbers): bar(A) or bar(A, axis)"),
    ("bar()", md.ParseError, 1, "bar(A) or bar(A, axis)"),
])
def test_bad_parameters_are_located_errors(text: str, cls: type[Exception], column: int, words: str) -> None:
    with pytest.raises(cls) as info:
        md.parse(text)
    msg = str(info.value)
    assert words in msg
    assert info.value.column == column and caret_column(msg) == column  # type: ignore[attr-defined]


# ---- inference and construction agree -------------------------------------------------------------------------------
N, M = as_dim("n"), as_dim("m")
SHAPES: list[tuple[sympy.Expr, sympy.Expr]] = [
    (ONE, ONE), (N, ONE), (ONE, N), (N, N), (N, M), (M, N), (as_dim(3), ONE), (as_dim(2), as_dim(3)),
    (as_dim(3), as_dim(3)), (as_dim(6), as_dim(6)), (as_dim(6), as_dim(4)), (as_dim(3), as_dim(2)),
    (2 * N, 3 * M), (as_dim(2), as_dim(2)),
]


def declare(name: str, shape: tuple[sympy.Expr, sympy.Expr]) -> str:
    r, c = shape
    return f"{name}: scalar" if (r, c) == (ONE, ONE) else f"{name}: matrix({r}, {c})"


def agree(f: LangFunction, shapes: tuple[tuple[sympy.Expr, sympy.Expr], ...], params: tuple[int, ...]) -> str:
    """Builds f of symbols of these shapes and infers the same call: the inferred shape is the built one (and the
    parsed expression the built one), or inference raises a located error of the class construction raised.
    Returns what happened, for the test's coverage check."""
    names = ["A", "B", "C", "D"][:len(shapes)]
    syms = [md.matrix(nm, *s) for nm, s in zip(names, shapes)]
    text = (f"{f.name}({', '.join(names + [str(p) for p in params])}) where "
            + ", ".join(declare(nm, s) for nm, s in zip(names, shapes)))
    try:
        built: Expr | None = f.build(*syms, *params)
    except md.MatderivError as exc:
        built, error = None, exc
    if built is not None:
        checker, root = parse_module._inferred(text, {})
        assert checker.final_shape(root) == built.shape, f"{text}: inferred {checker.final_shape(root)}, built {built}"
        parsed = md.parse(text)
        assert parsed == built, f"{text}: parsed {parsed} ({parsed.shape}), built {built} ({built.shape})"
        return "built"
    with pytest.raises(md.MatderivError) as info:
        parse_module._inferred(text, {})  # inference itself refuses, before any construction
    assert type(info.value) is type(error), f"{text}: {info.value!r} where construction raised {error!r}"
    assert info.value.column == 1, text  # type: ignore[attr-defined]  (at the call)
    assert caret_column(str(info.value)) == 1
    return "refused"


def sweep(f: LangFunction) -> set[str]:
    outcomes = set()
    for shapes in product(SHAPES, repeat=f.arity):
        for params in [()] + [(p,) for p in (0, 1)] * bool(f.params):
            outcomes.add(agree(f, shapes, params))
    return outcomes


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_inference_and_construction_agree(name: str) -> None:
    outcomes = sweep(FUNCTIONS[name])
    assert "built" in outcomes
    if name in ("tr", "det", "logdet", "inv", "solve", "diag", "softmax", "blockdot", "blocksum"):
        assert "refused" in outcomes, f"the sweep has no shape that {name} refuses"


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize("name", ["foo", "bar"])
def test_inference_and_construction_agree_for_new_ops(name: str) -> None:
    expected = {"built", "refused"} if name == "foo" else {"built"}  # foo needs a square matrix
    assert sweep(FUNCTIONS[name]) == expected


def test_the_matrix_product_reads_matmuls_rule() -> None:
    """'*' of two non-scalars is the matrix product: its error is the op's own, naming the operands' text."""
    with pytest.raises(md.ShapeError) as direct:
        md.matmul(md.vector("a", 3).T, md.matrix("X", 4, 3))
    assert "cannot multiply 'a.T' (1×3) @ 'X' (4×3): 3 ≠ 4" in str(direct.value)
    with pytest.raises(md.ShapeError) as info:
        md.parse("a'*X*b where a: vector(3), X: matrix(4, 3)")
    assert "cannot multiply 'a'' (1×3) @ 'X' (4×3): 3 ≠ 4 (column 3)" in str(info.value)
