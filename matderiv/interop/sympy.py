"""Conversion between SymPy matrix expressions and matderiv expressions.

``from_sympy`` reads SymPy's matrix-expression classes (``MatrixSymbol``, ``MatMul``, ``Trace``, …) and the
scalar SymPy expressions built from them; ``to_sympy`` writes a matderiv expression back with the SymPy
node of each op, or with an exact SymPy equivalent where SymPy has no such node (log det X = log(det X),
solve(A, B) = A⁻¹B, ‖X‖ = √tr(XᵀX), sum(X) = 𝟏ᵀX𝟏, logsumexp, softmax).

SymPy keeps scalars (``Symbol``, ``Trace(X)``) apart from 1×1 matrices (``x.T*y``); matderiv has only 1×1
matrices. Both become 1×1 expressions here; going back, a scalar symbol becomes a SymPy ``Symbol`` and the
result of a matrix product stays a 1×1 matrix expression.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Iterable

import sympy
from sympy.core.function import AppliedUndef, FunctionClass
from sympy.matrices.expressions import (Determinant, DiagMatrix, DiagonalMatrix, HadamardPower, HadamardProduct,
                                        Identity, KroneckerProduct, MatAdd, MatMul, MatPow, MatrixExpr, MatrixSymbol,
                                        OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .. import ops
from ..core.errors import ArgumentError, MatderivError
from ..core.expr import ONE, OPS, Expr, as_dim, check_name
from ..core.functions import NAMED, Fn, make_fn, x as fx

__all__ = ["from_sympy", "to_sympy"]


def from_sympy(expr: object, symmetric: Iterable[str] = ()) -> Expr:
    """The matderiv expression of a SymPy matrix (or scalar) expression.

    ``MatrixSymbol("X", n, m)`` becomes the symbol X (n×m; an n×1 one is a vector, a 1×1 one a scalar) and a
    SymPy ``Symbol`` a scalar symbol; the names in ``symmetric`` become symmetric matrices (SymPy's
    MatrixSymbol cannot say so). ``log(Determinant(X))`` becomes ``logdet(X)``. A node matderiv cannot
    represent raises :class:`ArgumentError` naming its SymPy class.
    """
    if isinstance(expr, bool) or not isinstance(expr, (sympy.Basic, int, float)):
        raise ArgumentError(f"from_sympy needs a SymPy expression, got {type(expr).__name__} {expr!r}")
    return _FromSympy(frozenset(symmetric)).go(sympy.sympify(expr))


def to_sympy(e: Expr, symbols: Iterable[sympy.Basic] = ()) -> sympy.Basic:
    """The SymPy expression of a matderiv expression.

    Symbols become ``MatrixSymbol`` (n×m and n×1) or ``Symbol`` (1×1) of the same name, dimensions plain
    SymPy ``Symbol``s of their name; ``symbols`` supplies SymPy symbols, matrix symbols or dimension symbols
    to use instead, by name (a matrix symbol's dimension symbols count as given too). Symmetry is not kept
    (SymPy's MatrixSymbol has no such flag). Ops SymPy lacks are written exactly in SymPy terms;
    ``blockdot`` and ``blocksum`` have no SymPy form and raise :class:`ArgumentError`.
    """
    if not isinstance(e, Expr):
        raise ArgumentError(f"to_sympy needs a matderiv expression, got {type(e).__name__} {e!r}")
    given: dict[str, sympy.Basic] = {}
    for s in symbols:
        if not isinstance(s, (sympy.Symbol, MatrixSymbol)):
            raise ArgumentError(f"to_sympy: symbols= takes SymPy Symbols and MatrixSymbols, got {s!r}")
        given[str(s.name)] = s
    for s in list(given.values()):  # a given matrix symbol's dimension symbols are given too
        for d in sympy.Tuple(*getattr(s, "shape", ())).free_symbols:
            given.setdefault(str(d.name), d)
    return _ToSympy(given).go(e)


# ---- SymPy → matderiv ------------------------------------------------------------------------------------------
def _unsupported(e: sympy.Basic, why: str = "") -> MatderivError:
    cls = type(e).__name__
    return ArgumentError(f"from_sympy: SymPy's {cls} ({e}) has no matderiv equivalent" + (f": {why}" if why else ""))


def _number(e: sympy.Expr) -> int | float | Fraction:
    """A real SymPy number as a Python int, an exact Fraction (rationals) or a float."""
    if e.is_Integer:
        return int(e)
    if e.is_extended_real is False or not e.is_finite:
        raise ArgumentError(f"from_sympy: the number {e} is not a finite real number")
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    return float(e)


def _is_matrix(e: sympy.Basic) -> bool:
    return bool(getattr(e, "is_Matrix", False))


class _FromSympy:
    """One conversion: memoised over shared SymPy subtrees; names the user functions it meets f, f2, …"""

    def __init__(self, symmetric: frozenset[str], bound: dict[sympy.Basic, Expr] | None = None,
                 names: dict[sympy.Expr, str] | None = None) -> None:
        self.symmetric = symmetric
        self.bound = bound or {}
        self.names: dict[sympy.Expr, str] = {} if names is None else names
        self.memo: dict[sympy.Basic, Expr] = {}

    def go(self, e: sympy.Basic) -> Expr:
        if e in self.bound:
            return self.bound[e]
        out = self.memo.get(e)
        if out is None:
            out = self.memo[e] = self.convert(e)
        return out

    def convert(self, e: sympy.Basic) -> Expr:
        if isinstance(e, sympy.Expr) and e.is_number and not _is_matrix(e):
            return ops.const(_number(e))
        for cls in type(e).__mro__:
            handler = _FROM.get(cls)
            if handler is not None:
                return handler(self, e)
        raise _unsupported(e)

    # -- leaves
    def symbol(self, e: sympy.Basic) -> Expr:
        name = str(e.name)
        if isinstance(e, MatrixSymbol):
            rows, cols = (as_dim(d) for d in e.shape)
        else:
            rows = cols = ONE
        return ops.symbol(check_name(name), rows, cols, symmetric=name in self.symmetric and rows != ONE)

    def special(self, e: MatrixExpr) -> Expr:
        n, m = (as_dim(d) for d in e.shape)
        if isinstance(e, Identity):
            return ops.eye(n)
        return ops.ones(n, m) if isinstance(e, OneMatrix) else ops.zeros(n, m)

    # -- products, sums, powers
    def product(self, e: sympy.Basic) -> Expr:
        """Scalar factors scale (⊙ with a 1×1), matrix factors chain (@), in SymPy's order."""
        scalars = [self.go(a) for a in e.args if not _is_matrix(a)]
        chain = [self.go(a) for a in e.args if _is_matrix(a)]
        scalars = [s for s in scalars if not ops.is_number(s, 1)]
        if chain:
            scalars.append(ops.matmul(*chain))
        return ops.mul(*scalars) if scalars else ops.const(1)

    def add(self, e: sympy.Basic) -> Expr:
        return ops.add(*[self.go(a) for a in e.args])

    def exponent(self, p: sympy.Basic) -> int | float | Expr:
        return _number(p) if p.is_number else self.go(p)

    def pow(self, e: sympy.Pow) -> Expr:
        base, p = e.args
        if p == sympy.S.Half:
            return ops.apply("sqrt", self.go(base))
        return ops.power(self.go(base), self.exponent(p))

    def hadamard_power(self, e: HadamardPower) -> Expr:
        base, p = e.args
        return ops.power(self.go(base), self.exponent(p))

    def matpow(self, e: MatPow) -> Expr:
        """X^p = X⋯X (p > 0), X⁻ᵖ = (X⋯X)⁻¹, X⁰ = I; a 1×1 base takes any exponent."""
        base, p = e.args
        b = self.go(base)
        if b.is_scalar:
            return ops.power(b, self.exponent(p))
        if not p.is_Integer:
            raise _unsupported(e, f"the exponent {p} of a non-1×1 matrix power is not an integer")
        n = int(p)
        if n == 0:
            return ops.eye(b.shape[0])
        chain = ops.matmul(*[b] * abs(n)) if abs(n) > 1 else b
        return chain if n > 0 else ops.inv(chain)

    # -- matrix functions
    def kron(self, e: KroneckerProduct) -> Expr:
        out = self.go(e.args[0])
        for a in e.args[1:]:
            out = ops.kron(out, self.go(a))
        return out

    def diag_matrix(self, e: DiagMatrix) -> Expr:
        """diag(v) of a column v, or of a row vᵀ (SymPy takes both)."""
        arg = e.args[0]
        v = self.go(arg)
        if v.is_scalar or v.shape[1] == ONE:
            return v if v.is_scalar else ops.diag_matrix(v)
        return ops.diag_matrix(self.go(arg.arg) if isinstance(arg, Transpose) else ops.transpose(v))

    def function(self, e: sympy.Function) -> Expr:
        """f(s) of a scalar or 1×1 s: the named function when SymPy's is one of them, else a new elementwise one."""
        if isinstance(e, AppliedUndef):
            raise ArgumentError(f"from_sympy: the undefined function {e.func} in {e} has no known derivative")
        if len(e.args) != 1:
            raise _unsupported(e, "only functions of one argument convert")
        (arg,) = e.args
        if isinstance(e, sympy.log) and isinstance(arg, Determinant):
            return ops.logdet(self.go(arg.arg))
        a = self.go(arg)
        if not a.is_scalar:
            raise _unsupported(e, f"SymPy's {type(e).__name__} of a matrix is the matrix function, not an "
                                  f"elementwise one (write {arg}.applyfunc({type(e).__name__}) for elementwise)")
        return ops.apply(self.fn(e.func(fx), type(e).__name__), a)

    def applyfunc(self, e: ElementwiseApplyFunction) -> Expr:
        """f∘(A): the named function when the body is one, else a user function; a body with other symbols
        (``Lambda(d, i*d)``) is rebuilt elementwise from its parts."""
        f, a = e.function, self.go(e.expr)
        if isinstance(f, sympy.Lambda):  # SymPy makes sure it takes one argument
            var, body = f.variables[0], f.expr
        elif isinstance(f, FunctionClass):
            var = sympy.Dummy("d")
            body = f(var)
        else:
            raise _unsupported(e, f"the function {f} is not a Lambda or a SymPy function")
        if body.free_symbols - {var}:
            return _FromSympy(self.symmetric, {**self.bound, var: a}, self.names).go(body)
        b = body.xreplace({var: fx})
        name = type(b).__name__ if isinstance(b, sympy.Function) and b.args == (fx,) else None
        return ops.apply(self.fn(b, name), a)

    def fn(self, body: sympy.Expr, name: str | None) -> Fn:
        """The named function with this body, else a user function called ``name`` (or f, f2, … by body)."""
        for fn in NAMED.values():
            if fn.body == body:
                return fn
        if body.has(AppliedUndef):
            raise ArgumentError(f"from_sympy: the undefined function {body.atoms(AppliedUndef).pop().func} in "
                                f"ElementwiseApplyFunction has no known derivative")
        if name is None:
            name = self.names.setdefault(body, f"f{len(self.names) + 1}" if self.names else "f")
        return make_fn(name, body)


def _of_op(name: str) -> Callable[[_FromSympy, sympy.Basic], Expr]:
    """A SymPy node whose class an op's spec names (``from_sympy``): that op of the converted arguments."""
    def convert(self: _FromSympy, e: sympy.Basic) -> Expr:
        arity = OPS[name].arity or len(e.args)  # SymPy's Inverse(X) is MatPow(X, -1): its args are (X, -1)
        return OPS[name].make([self.go(a) for a in e.args[:arity]])
    return convert


_FROM: dict[type, Callable[[_FromSympy, sympy.Basic], Expr]] = {
    MatrixSymbol: _FromSympy.symbol, sympy.Symbol: _FromSympy.symbol,
    Identity: _FromSympy.special, OneMatrix: _FromSympy.special, ZeroMatrix: _FromSympy.special,
    MatMul: _FromSympy.product, sympy.Mul: _FromSympy.product,
    MatAdd: _FromSympy.add, sympy.Add: _FromSympy.add,
    sympy.Pow: _FromSympy.pow, HadamardPower: _FromSympy.hadamard_power, MatPow: _FromSympy.matpow,
    HadamardProduct: lambda self, e: ops.mul(*[self.go(a) for a in e.args]),
    DiagonalMatrix: lambda self, e: ops.diag_matrix(ops.diagpart(self.go(e.args[0]))),
    DiagMatrix: _FromSympy.diag_matrix, KroneckerProduct: _FromSympy.kron,
    ElementwiseApplyFunction: _FromSympy.applyfunc, sympy.Function: _FromSympy.function,
}
for _name, _op in OPS.items():
    for _cls in _op.from_sympy:
        _FROM[_cls] = _of_op(_name)


# ---- matderiv → SymPy ------------------------------------------------------------------------------------------
def _sympy_number(v: int | Fraction) -> sympy.Expr:
    """A matderiv number (an int or an exact fraction) as a SymPy Integer or Rational."""
    if isinstance(v, int):
        return sympy.Integer(v)
    return sympy.Rational(v.numerator, v.denominator)


class _ToSympy:
    """One conversion. Each node becomes a SymPy scalar or a SymPy matrix expression (1×1 ones may be either)."""

    def __init__(self, given: dict[str, sympy.Basic]) -> None:
        self.given = given
        self.memo: dict[Expr, sympy.Basic] = {}

    def dim(self, d: sympy.Expr) -> sympy.Expr:
        subs = {s: self.given.get(s.name, sympy.Symbol(s.name)) for s in d.free_symbols}
        return d.xreplace(subs) if subs else d

    def shape(self, e: Expr) -> tuple[sympy.Expr, sympy.Expr]:
        return self.dim(e.shape[0]), self.dim(e.shape[1])

    def go(self, e: Expr) -> sympy.Basic:
        out = self.memo.get(e)
        if out is None:
            own = getattr(self, "_" + e.op, None)  # the leaves
            rule = OPS[e.op].sympy
            if own is None and rule is None:
                raise ArgumentError(f"to_sympy: the op '{e.op}' ({e}) has no SymPy equivalent")
            args = [self.go(a) for a in e.args]
            out = self.memo[e] = own(e) if own is not None else rule(self, e, *args)
        return out

    def full(self, s: sympy.Basic, shape: tuple[sympy.Expr, sympy.Expr]) -> sympy.Basic:
        """A scalar or 1×1 value broadcast over ``shape``: s 𝟏𝟏ᵀ."""
        if shape == (1, 1):
            return s if _is_matrix(s) else MatMul(s, OneMatrix(1, 1))
        if _is_matrix(s):
            return MatMul(OneMatrix(shape[0], 1), s, OneMatrix(1, shape[1]))
        return MatMul(s, OneMatrix(*shape))

    # -- leaves
    def _symbol(self, e: Expr) -> sympy.Basic:
        s = self.given.get(e.name)
        if e.is_scalar:
            return s if isinstance(s, sympy.Symbol) else sympy.Symbol(e.name)
        return s if isinstance(s, MatrixSymbol) and s.shape == self.shape(e) else MatrixSymbol(e.name, *self.shape(e))

    def _const(self, e: Expr) -> sympy.Basic:
        return _sympy_number(e.params[0])

    def _ones(self, e: Expr) -> sympy.Basic:
        return OneMatrix(*self.shape(e))

    def _zeros(self, e: Expr) -> sympy.Basic:
        return ZeroMatrix(*self.shape(e))

    def _eye(self, e: Expr) -> sympy.Basic:
        return Identity(self.shape(e)[0])

    # -- every other op: its spec's SymPy counterpart
    @staticmethod
    def is_matrix(s: sympy.Basic) -> bool:
        return _is_matrix(s)

    @staticmethod
    def number(v: int | Fraction) -> sympy.Expr:
        return _sympy_number(v)
