"""Every operation, defined once: its shape rule, its VJP written in matderiv's own operations, its print forms.

A VJP rule ``vjp(g, out, i)`` returns the cotangent of argument ``i`` of the node ``out`` given the cotangent
``g`` of ``out``: the matrix ∂⟨g, out⟩/∂argᵢ (same shape as argᵢ). References: Petersen & Pedersen, *The
Matrix Cookbook* (2012), equation numbers (C·); M. Giles, *An extended collection of matrix derivative
results for forward and reverse mode AD* (2008), section numbers (Giles §·).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Sequence

import sympy

from .errors import ArgumentError, ShapeError
from .expr import ONE, Expr, Shape, as_dim, check_name, describe, fmt_shape
from .functions import NAMED, Fn, make_fn, to_expr

Vjp = Callable[[Expr, Expr, int], Expr]
ShapeRule = Callable[[tuple[Expr, ...], tuple[Any, ...]], Shape]


@dataclass(frozen=True)
class Op:
    """An operation: ``shape(args, params)`` (raises ShapeError), ``vjp(g, out, i)``, and print forms.

    ``text``/``latex`` are format strings over the printed arguments for function-like ops (infix ops are
    printed by each printer's ``_print_<name>``). ``domain`` tells the certificate where inputs are valid.
    """

    name: str
    shape: ShapeRule
    vjp: Vjp | None
    text: str = ""
    latex: str = ""
    domain: str = ""
    linear: bool = False


OPS: dict[str, Op] = {}


def defop(name: str, shape: ShapeRule, vjp: Vjp | None, **kw: Any) -> Op:
    OPS[name] = op = Op(name, shape, vjp, **kw)
    return op


def node(name: str, args: Sequence[Expr] = (), params: tuple[Any, ...] = ()) -> Expr:
    """Build the node ``name(args; params)``, checking shapes with the op's rule."""
    args = tuple(args)
    return Expr(name, args, params, OPS[name].shape(args, params))


def as_expr(v: object, what: str = "operand") -> Expr:
    """An expression from an expression or a Python number."""
    if isinstance(v, Expr):
        return v
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return const(v)
    if hasattr(v, "item") and getattr(v, "shape", None) == ():  # numpy scalar
        return const(v.item())  # type: ignore[union-attr]
    raise ArgumentError(f"{what} must be a matderiv expression or a number, got {type(v).__name__} {v!r}")


def rebuild(e: Expr, args: Sequence[Expr]) -> Expr:
    """``e`` with new arguments (same op and params); flattening and broadcasting apply again."""
    return BUILDERS[e.op](args, e.params) if e.op in BUILDERS else node(e.op, args, e.params)


def _square(name: str) -> ShapeRule:
    def rule(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
        (a,) = args
        if a.shape[0] != a.shape[1]:
            raise ShapeError(f"{name} needs a square matrix, got {describe(a)}")
        return a.shape
    return rule


def _scalar_of_square(name: str) -> ShapeRule:
    sq = _square(name)
    return lambda args, params: (sq(args, params), (ONE, ONE))[1]


def _same(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    return args[0].shape


def _to_scalar(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    return (ONE, ONE)


# ---- leaves ------------------------------------------------------------------------------------------------
def _leaf(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    return params[-1]  # type: ignore[no-any-return]


defop("symbol", _leaf, None)
defop("const", lambda args, params: (ONE, ONE), None)
defop("ones", _leaf, None)
defop("zeros", _leaf, None)
defop("eye", _leaf, None)


def symbol(name: str, rows: object = 1, cols: object = 1, symmetric: bool = False) -> Expr:
    """A symbol; ``symmetric`` marks a square matrix equal to its transpose."""
    shape = (as_dim(rows), as_dim(cols))
    if symmetric and shape[0] != shape[1]:
        raise ShapeError(f"symmetric matrix {name!r} must be square, got {fmt_shape(shape)}")
    return Expr("symbol", (), (check_name(name), bool(symmetric), shape), shape)


def const(value: int | float | Fraction) -> Expr:
    """The number ``value`` as a 1×1 expression. Numbers are exact: an int or a Fraction; a float is the decimal it
    prints as (0.1 is 1/10), so that 0.1² = 0.01 and d/dx x/3 = 1/3 hold to any precision."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"a constant must be a real number, got {type(value).__name__} {value!r}")
    if isinstance(value, int):
        return Expr("const", (), (value, (ONE, ONE)), (ONE, ONE))
    if isinstance(value, numbers.Rational):
        q = Fraction(int(value.numerator), int(value.denominator))
    else:
        f = float(value)
        if f != f or f in (float("inf"), float("-inf")):
            raise ArgumentError(f"the number {value!r} is not finite")
        q = Fraction(repr(f))
    v = q.numerator if q.denominator == 1 else q
    return Expr("const", (), (v, (ONE, ONE)), (ONE, ONE))


def ones(n: object, m: object = 1) -> Expr:
    """The all-ones matrix (n×m); ``ones(n)`` is the ones vector 𝟏."""
    shape = (as_dim(n), as_dim(m))
    return const(1) if shape == (ONE, ONE) else Expr("ones", (), (shape,), shape)


def zeros(n: object, m: object = 1) -> Expr:
    """The zero matrix (n×m)."""
    shape = (as_dim(n), as_dim(m))
    return const(0) if shape == (ONE, ONE) else Expr("zeros", (), (shape,), shape)


def eye(n: object) -> Expr:
    """The identity matrix I (n×n)."""
    d = as_dim(n)
    return const(1) if d == ONE else Expr("eye", (), ((d, d),), (d, d))


def ones_like(e: object) -> Expr:
    e = as_expr(e)
    return ones(*e.shape)


def zeros_like(e: object) -> Expr:
    e = as_expr(e)
    return zeros(*e.shape)


def is_number(e: Expr, value: float | None = None) -> bool:
    return e.op == "const" and (value is None or e.params[0] == value)


# ---- broadcasting (numpy's 2-D rules) ---------------------------------------------------------------------
def _broadcast(xs: Sequence[Expr], op: str) -> tuple[list[Expr], Shape]:
    """Broadcast rows 1×m and columns n×1 to the common shape by multiplying with ones (1 bᵀ, x 1ᵀ).

    Scalars (1×1) stay as they are: add and mul take them directly.
    """
    shape: list[sympy.Expr] = [ONE, ONE]
    culprit: list[Expr | None] = [None, None]
    for e in xs:
        if e.is_scalar:
            continue
        for ax in (0, 1):
            d = e.shape[ax]
            if d == ONE:
                continue
            if shape[ax] == ONE:
                shape[ax], culprit[ax] = d, e
            elif shape[ax] != d:
                raise ShapeError(f"cannot broadcast {describe(culprit[ax])} and {describe(e)} in '{op}': "  # type: ignore[arg-type]
                                 f"{'rows' if ax == 0 else 'columns'} {shape[ax]} ≠ {d}")
    out: list[Expr] = []
    for e in xs:
        if not e.is_scalar and e.shape != tuple(shape):
            if e.shape[0] == ONE and shape[0] != ONE:
                e = matmul(ones(shape[0], 1), e)
            if e.shape[1] == ONE and shape[1] != ONE:
                e = matmul(e, ones(1, shape[1]))
        out.append(e)
    return out, (shape[0], shape[1])


def _flat(op: str, xs: Sequence[Expr]) -> list[Expr]:
    out: list[Expr] = []
    for e in xs:
        out.extend(e.args if e.op == op else (e,))
    return out


def _elementwise_shape(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    full = [a.shape for a in args if not a.is_scalar]
    return full[0] if full else (ONE, ONE)


def _reduce_to(arg: Expr, out: Expr, ct: Expr) -> Expr:
    """The cotangent of a broadcast scalar argument: the sum of the cotangent."""
    return sum_(ct) if arg.is_scalar and not out.is_scalar else ct


# ---- add -----------------------------------------------------------------------------------------------------
def _add_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, Σ Aⱼ⟩/∂Aᵢ = G (summed over broadcast axes)."""
    return _reduce_to(out.args[i], out, g)


defop("add", _elementwise_shape, _add_vjp, linear=True)


def _build_add(args: Sequence[Expr], params: tuple[Any, ...] = ()) -> Expr:
    xs, _ = _broadcast(_flat("add", args), "+")
    return xs[0] if len(xs) == 1 else node("add", xs)


def add(*terms: object) -> Expr:
    """A + B + ⋯ (numpy broadcasting)."""
    return _build_add([as_expr(t) for t in terms])


# ---- mul (Hadamard product, with scalar factors) -----------------------------------------------------------
def _mul_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, A₁ ⊙ ⋯ ⊙ A_k⟩/∂Aᵢ = G ⊙ ∏_{j≠i} Aⱼ (C 2.8; summed when Aᵢ is a broadcast scalar)."""
    others = out.args[:i] + out.args[i + 1:]
    return _reduce_to(out.args[i], out, mul(g, *others))


defop("mul", _elementwise_shape, _mul_vjp)


def _build_mul(args: Sequence[Expr], params: tuple[Any, ...] = ()) -> Expr:
    xs, _ = _broadcast(_flat("mul", args), "*")
    return xs[0] if len(xs) == 1 else node("mul", xs)


def mul(*factors: object) -> Expr:
    """A ⊙ B ⊙ ⋯, elementwise (numpy's ``*``); a 1×1 factor scales."""
    return _build_mul([as_expr(f) for f in factors])


def neg(a: object) -> Expr:
    return mul(-1, a)


def divide(a: object, b: object) -> Expr:
    """A / B elementwise: A ⊙ B^{∘−1}."""
    return mul(a, power(b, -1))


# ---- power (elementwise, numeric exponent) ---------------------------------------------------------------
def _power_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, X^{∘p}⟩/∂X = p G ⊙ X^{∘(p−1)}."""
    (xx,), (p,) = out.args, out.params
    return mul(p, g) if p == 1 else mul(p, g, power(xx, p - 1))


defop("power", _same, _power_vjp)


def power(a: object, p: object) -> Expr:
    """A^{∘p} elementwise; a scalar expression as exponent gives exp(p log A)."""
    a = as_expr(a, "base of '**'")
    if isinstance(p, Expr):
        if not p.is_scalar:
            raise ShapeError(f"the exponent of '**' must be a scalar, got {describe(p)}")
        if is_number(p):
            p = p.params[0]
        else:
            return apply("exp", mul(p, apply("log", a)))
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise ArgumentError(f"the exponent of '**' must be a number or a scalar expression, got {p!r}")
    p = const(p).params[0]
    return node("power", (a,), (p,))


# ---- matmul -----------------------------------------------------------------------------------------------------
def _matmul_shape(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    for a, b in zip(args, args[1:]):
        if a.shape[1] != b.shape[0]:
            raise ShapeError(f"cannot multiply {describe(a)} @ {describe(b)}: {a.shape[1]} ≠ {b.shape[0]}")
    return (args[0].shape[0], args[-1].shape[1])


def _matmul_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, A₁⋯A_k⟩/∂Aᵢ = (A₁⋯Aᵢ₋₁)ᵀ G (Aᵢ₊₁⋯A_k)ᵀ (Giles §2.3.2)."""
    a = out.args
    return matmul(*[transpose(e) for e in reversed(a[:i])], g, *[transpose(e) for e in reversed(a[i + 1:])])


defop("matmul", _matmul_shape, _matmul_vjp)


def _build_matmul(args: Sequence[Expr], params: tuple[Any, ...] = ()) -> Expr:
    xs = _flat("matmul", args)
    return xs[0] if len(xs) == 1 else node("matmul", xs)


def matmul(*factors: Expr) -> Expr:
    """A B ⋯, the matrix product (numpy's ``@``)."""
    return _build_matmul([as_expr(f) for f in factors])


# ---- transpose ----------------------------------------------------------------------------------------------
def _transpose_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, Xᵀ⟩/∂X = Gᵀ."""
    return transpose(g)


defop("transpose", lambda args, params: (args[0].shape[1], args[0].shape[0]), _transpose_vjp, linear=True)


def transpose(a: object) -> Expr:
    """Aᵀ."""
    return node("transpose", (as_expr(a),))


# ---- elementwise functions ----------------------------------------------------------------------------------
def _apply_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, f(X)⟩/∂X = G ⊙ f'(X), with f' from SymPy."""
    fn: Fn = out.params[0]
    return mul(g, to_expr(fn.derivative(), out.args[0], fn.name + "_prime"))


defop("apply", _same, _apply_vjp)


def apply(fn: Fn | str, a: object) -> Expr:
    """f(A) elementwise, for a named function (``"exp"``) or an :class:`Fn`."""
    if isinstance(fn, str):
        if fn not in NAMED:
            raise ArgumentError(f"unknown elementwise function {fn!r}; known: {', '.join(sorted(NAMED))}")
        fn = NAMED[fn]
    return node("apply", (as_expr(a, f"argument of {fn.name}"),), (fn,))


def elementwise(name: str, f: sympy.Expr | Callable[[sympy.Symbol], sympy.Expr]) -> Callable[[object], Expr]:
    """A user's elementwise function from a SymPy expression or a lambda of one SymPy symbol."""
    fn = make_fn(name, f)
    return lambda a: apply(fn, a)


# ---- trace, det, logdet, inv, solve ----------------------------------------------------------------------------
def _trace_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂ tr X/∂X = I (C 100)."""
    return mul(g, eye(out.args[0].shape[0]))


def _det_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂ det X/∂X = det(X) X^{−T} (C 49)."""
    return mul(g, out, transpose(inv(out.args[0])))


def _logdet_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂ log det X/∂X = X^{−T} (C 57)."""
    return mul(g, transpose(inv(out.args[0])))


def _inv_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """C = X⁻¹: X̄ = −Cᵀ C̄ Cᵀ (C 59, Giles §2.3.4)."""
    return neg(matmul(transpose(out), g, transpose(out)))


defop("trace", _scalar_of_square("trace"), _trace_vjp,
      text="trace({0})", latex=r"\operatorname{{tr}}\left({0}\right)", linear=True)
defop("det", _scalar_of_square("det"), _det_vjp, text="det({0})", latex=r"\det\left({0}\right)", domain="invertible")
defop("logdet", _scalar_of_square("logdet"), _logdet_vjp,
      text="logdet({0})", latex=r"\log\det\left({0}\right)", domain="positive-det")
defop("inv", _square("inv"), _inv_vjp, text="inv({0})", latex=r"{0}^{{-1}}", domain="invertible")


def trace(a: object) -> Expr:
    return node("trace", (as_expr(a, "argument of trace"),))


def det(a: object) -> Expr:
    return node("det", (as_expr(a, "argument of det"),))


def logdet(a: object) -> Expr:
    """log det A (A with a positive determinant)."""
    return node("logdet", (as_expr(a, "argument of logdet"),))


def inv(a: object) -> Expr:
    return node("inv", (as_expr(a, "argument of inv"),))


def _solve_shape(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    a, b = args
    _square("solve")((a,), ())
    if a.shape[1] != b.shape[0]:
        raise ShapeError(f"solve(A, B) needs B with as many rows as A: {describe(a)}, {describe(b)}")
    return b.shape


def _solve_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """C = A⁻¹B: B̄ = A^{−T} C̄, Ā = −A^{−T} C̄ Cᵀ (Giles §2.3.5)."""
    b_bar = solve(transpose(out.args[0]), g)
    return b_bar if i == 1 else neg(matmul(b_bar, transpose(out)))


defop("solve", _solve_shape, _solve_vjp, text="solve({0}, {1})", latex=r"{0}^{{-1}} {1}", domain="invertible")


def solve(a: object, b: object) -> Expr:
    """A⁻¹B, the solution X of A X = B."""
    return node("solve", (as_expr(a, "A of solve"), as_expr(b, "B of solve")))


# ---- reductions and norms -------------------------------------------------------------------------------------
def _sum_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂ 1ᵀX1/∂X = 𝟏𝟏ᵀ."""
    return mul(g, ones(*out.args[0].shape))


def _norm2_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂‖X‖_F/∂X = X/‖X‖_F (C 2.6)."""
    return mul(g, out.args[0], power(out, -1))


defop("sum", _to_scalar, _sum_vjp, text="sum({0})", latex=r"\operatorname{{sum}}\left({0}\right)", linear=True)
defop("norm2", _to_scalar, _norm2_vjp, text="norm2({0})", latex=r"\left\| {0} \right\|", domain="nonzero")


def sum_(a: object) -> Expr:
    """The sum of all entries, 1ᵀA1."""
    return node("sum", (as_expr(a, "argument of sum"),))


def norm2(a: object) -> Expr:
    """The 2-norm of a vector, the Frobenius norm of a matrix."""
    return node("norm2", (as_expr(a, "argument of norm2"),))


def norm1(a: object) -> Expr:
    """The entrywise 1-norm Σ|aᵢⱼ|."""
    return sum_(apply("abs", a))


# ---- diag ----------------------------------------------------------------------------------------------------------
def _diag_shape(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    (v,) = args
    if v.shape[1] != ONE:
        raise ShapeError(f"diag needs a vector or a square matrix, got {describe(v)}")
    return (v.shape[0], v.shape[0])


def _diag_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """⟨G, diag(v)⟩ = ⟨diag(G), v⟩: the cotangent of v is G's diagonal."""
    return diagpart(g)


def _diagpart_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """⟨g, diag(X)⟩ = ⟨diag(g), X⟩: the cotangent of X is the diagonal matrix of g."""
    return diag_matrix(g)


defop("diag", _diag_shape, _diag_vjp, text="diag({0})", latex=r"\operatorname{{diag}}\left({0}\right)", linear=True)
defop("diagpart", lambda args, params: (_square("diag")(args, params)[0], ONE), _diagpart_vjp,
      text="diag({0})", latex=r"\operatorname{{diag}}\left({0}\right)", linear=True)


def diag_matrix(v: Expr) -> Expr:
    return node("diag", (v,))


def diagpart(a: Expr) -> Expr:
    return node("diagpart", (a,))


def diag(a: object) -> Expr:
    """diag(v): the diagonal matrix of a vector; diag(A): the vector of a square matrix's diagonal."""
    a = as_expr(a, "argument of diag")
    if a.is_scalar:
        return a
    if a.shape[1] == ONE:
        return diag_matrix(a)
    if a.shape[0] == a.shape[1]:
        return diagpart(a)
    raise ShapeError(f"diag needs a vector or a square matrix, got {describe(a)}")


# ---- Kronecker product and its two contractions ------------------------------------------------------------------
def _kron_shape(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    a, b = args
    return (a.shape[0] * b.shape[0], a.shape[1] * b.shape[1])


def _blocks_shape(name: str) -> ShapeRule:
    def rule(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
        g, k = args
        r, c = sympy.cancel(g.shape[0] / k.shape[0]), sympy.cancel(g.shape[1] / k.shape[1])
        if not (r.is_integer and c.is_integer) or sympy.fraction(r)[1] != 1 or sympy.fraction(c)[1] != 1:
            raise ShapeError(f"{name}: {describe(g)} is not made of blocks of {describe(k)}'s shape")
        return (r, c)
    return rule


def _kron_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """⟨G, A ⊗ B⟩ = ⟨blockdot(G, B), A⟩ = ⟨blocksum(G, A), B⟩, over the blocks Gᵢⱼ of G of B's shape."""
    a, b = out.args
    return blockdot(g, b) if i == 0 else blocksum(g, a)


def _blockdot_vjp(h: Expr, out: Expr, i: int) -> Expr:
    """blockdot(G, B)ᵢⱼ = ⟨Gᵢⱼ, B⟩ is bilinear: ⟨H, blockdot(G, B)⟩ = ⟨G, H ⊗ B⟩ = ⟨blocksum(G, H), B⟩."""
    gg, b = out.args
    return kron(h, b) if i == 0 else blocksum(gg, h)


def _blocksum_vjp(h: Expr, out: Expr, i: int) -> Expr:
    """blocksum(G, A) = Σᵢⱼ Aᵢⱼ Gᵢⱼ is bilinear: ⟨H, blocksum(G, A)⟩ = ⟨G, A ⊗ H⟩ = ⟨blockdot(G, H), A⟩."""
    gg, a = out.args
    return kron(a, h) if i == 0 else blockdot(gg, h)


defop("kron", _kron_shape, _kron_vjp, text="kron({0}, {1})", latex=r"{0} \otimes {1}")
defop("blockdot", _blocks_shape("blockdot"), _blockdot_vjp,
      text="blockdot({0}, {1})", latex=r"\operatorname{{blockdot}}\left({0}, {1}\right)")
defop("blocksum", _blocks_shape("blocksum"), _blocksum_vjp,
      text="blocksum({0}, {1})", latex=r"\operatorname{{blocksum}}\left({0}, {1}\right)")


def kron(a: object, b: object) -> Expr:
    """A ⊗ B, the Kronecker product."""
    return node("kron", (as_expr(a, "A of kron"), as_expr(b, "B of kron")))


def blockdot(g: Expr, b: Expr) -> Expr:
    return node("blockdot", (g, b))


def blocksum(g: Expr, a: Expr) -> Expr:
    return node("blocksum", (g, a))


# ---- logsumexp and softmax ------------------------------------------------------------------------------------------
def _lse_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂ log Σ exp(xᵢ)/∂x = softmax(x)."""
    a = out.args[0]
    return mul(g, softmax(a) if a.shape[1] == ONE else apply("exp", add(a, neg(out))))


def _softmax_shape(args: tuple[Expr, ...], params: tuple[Any, ...]) -> Shape:
    if args[0].shape[1] != ONE:
        raise ShapeError(f"softmax needs a vector, got {describe(args[0])}")
    return args[0].shape


defop("logsumexp", _to_scalar, _lse_vjp, text="logsumexp({0})", latex=r"\operatorname{{logsumexp}}\left({0}\right)")
def _softmax_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """s = softmax(x): x̄ = s ⊙ (ḡ − sᵀḡ) (the Jacobian is diag(s) − s sᵀ)."""
    return mul(out, add(g, neg(matmul(transpose(out), g))))


defop("softmax", _softmax_shape, _softmax_vjp,
      text="softmax({0})", latex=r"\operatorname{{softmax}}\left({0}\right)")


def logsumexp(a: object) -> Expr:
    """log Σᵢⱼ exp(aᵢⱼ)."""
    return node("logsumexp", (as_expr(a, "argument of logsumexp"),))


def softmax(a: object) -> Expr:
    """exp(a) / Σ exp(aᵢ), of a vector."""
    return node("softmax", (as_expr(a, "argument of softmax"),))


BUILDERS: dict[str, Callable[[Sequence[Expr], tuple[Any, ...]], Expr]] = {
    "add": _build_add, "mul": _build_mul, "matmul": _build_matmul,
}


def _named(name: str) -> Callable[[object], Expr]:
    def f(a: object) -> Expr:
        return apply(name, a)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"{name}(A), elementwise."
    return f


exp, log, sin, cos, tan, tanh, sqrt, abs_, sign, relu, sigmoid, softplus, step = (
    _named(n) for n in ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "sign", "relu", "sigmoid",
                        "softplus", "step"))
