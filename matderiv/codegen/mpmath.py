"""mpmath code: the source of a standalone function that evaluates expressions at mpmath precision.

The generated module imports only ``mpmath``. Every value inside it is an ``mpmath.matrix`` of the full 2-D shape
(vectors n×1, scalars 1×1); the function accepts mpmath matrices, nested lists, numpy arrays or numbers (vectors
may be flat) and returns an ``mpf`` for a 1×1 result and an ``mpmath.matrix`` otherwise. It computes at the
precision of the ambient context (``mpmath.mp.dps`` or ``with mpmath.workdps(...)``).

One assignment per distinct DAG node, in topological order, so common subexpressions are computed once. Only
validated identifiers (symbol and dimension names, :func:`matderiv.expr.check_name`) and numbers reach the source;
every name the generator introduces starts with ``_``, which a symbol name cannot, so none can clash.
"""
from __future__ import annotations

import io
from fractions import Fraction
import tokenize
from typing import Any, Callable, Mapping, Sequence

import mpmath
import sympy
from sympy.printing.pycode import MpmathPrinter

from .common import outputs_of, resolve_args
from ..core.errors import ArgumentError, DerivativeError
from ..core.expr import ONE, Expr, check_name, describe, dim_symbol, iter_nodes
from ..core.functions import Fn
from ..printing.base import ATOM, Printer

PRELUDE = '''\
import mpmath


def _in(v, name, kind):
    """An input as an mpmath matrix of its full 2-D shape (kind: scalar, col, row or mat)."""
    if isinstance(v, mpmath.matrix):
        return v
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        if v and isinstance(v[0], (list, tuple)):
            return mpmath.matrix(v)
        return mpmath.matrix([list(v)] if kind == "row" else [[e] for e in v])
    return mpmath.matrix([[v]])


def _shape(v, name, rows, cols):
    if (v.rows, v.cols) != (rows, cols):
        raise ValueError(f"{name} must be {rows}x{cols}, got {v.rows}x{v.cols}")


def _num(v):
    return mpmath.mpf(v)


def _c(v):
    return mpmath.matrix([[mpmath.mpf(v)]])


def _out(v):
    return v[0, 0] if (v.rows, v.cols) == (1, 1) else v


def _ones(r, c):
    return mpmath.ones(r, c)


def _zeros(r, c):
    return mpmath.zeros(r, c)


def _eye(n):
    return mpmath.eye(n)


def _full(xs):
    for v in xs:
        if (v.rows, v.cols) != (1, 1):
            return v.rows, v.cols
    return 1, 1


def _add(*xs):
    """A + B + ..., a 1x1 term broadcast over the full shape."""
    r, c = _full(xs)
    out = mpmath.zeros(r, c)
    for v in xs:
        if (v.rows, v.cols) == (r, c):
            out += v
        else:
            s = v[0, 0]
            for i in range(r):
                for j in range(c):
                    out[i, j] += s
    return out


def _mul(*xs):
    """A * B * ... elementwise (Hadamard), a 1x1 factor scales."""
    r, c = _full(xs)
    out = mpmath.ones(r, c)
    for v in xs:
        if (v.rows, v.cols) == (r, c):
            for i in range(r):
                for j in range(c):
                    out[i, j] *= v[i, j]
        else:
            out *= v[0, 0]
    return out


def _matmul(*xs):
    out = xs[0]
    for v in xs[1:]:
        out = out * v
    return out


def _pow(v, p):
    return v.apply(lambda e: e ** p)


def _T(v):
    return v.T


def _map(v, f):
    return v.apply(f)


def _trace(v):
    return mpmath.matrix([[mpmath.fsum(v[i, i] for i in range(v.rows))]])


def _det(v):
    return mpmath.matrix([[mpmath.det(v)]])


def _logdet(v):
    return mpmath.matrix([[mpmath.log(mpmath.det(v))]])


def _inv(v):
    return mpmath.inverse(v)


def _solve(a, b):
    """A^-1 B, column by column."""
    out = mpmath.zeros(b.rows, b.cols)
    for j in range(b.cols):
        col = mpmath.lu_solve(a, b.column(j))
        for i in range(b.rows):
            out[i, j] = col[i]
    return out


def _entries(v):
    return [v[i, j] for i in range(v.rows) for j in range(v.cols)]


def _sum(v):
    return mpmath.matrix([[mpmath.fsum(_entries(v))]])


def _norm2(v):
    return mpmath.matrix([[mpmath.sqrt(mpmath.fsum(e * e for e in _entries(v)))]])


def _diag(v):
    out = mpmath.zeros(v.rows, v.rows)
    for i in range(v.rows):
        out[i, i] = v[i, 0]
    return out


def _diagpart(v):
    return mpmath.matrix([[v[i, i]] for i in range(v.rows)])


def _kron(a, b):
    out = mpmath.zeros(a.rows * b.rows, a.cols * b.cols)
    for i in range(a.rows):
        for j in range(a.cols):
            for k in range(b.rows):
                for l in range(b.cols):
                    out[i * b.rows + k, j * b.cols + l] = a[i, j] * b[k, l]
    return out


def _blockdot(g, b):
    """out[i, j] = <block (i, j) of G, B>, blocks of B's shape (the VJP of A (x) B in A)."""
    r, c = g.rows // b.rows, g.cols // b.cols
    out = mpmath.zeros(r, c)
    for i in range(r):
        for j in range(c):
            out[i, j] = mpmath.fsum(g[i * b.rows + k, j * b.cols + l] * b[k, l]
                                    for k in range(b.rows) for l in range(b.cols))
    return out


def _blocksum(g, a):
    """sum over (i, j) of A[i, j] * block (i, j) of G (the VJP of A (x) B in B)."""
    r, c = g.rows // a.rows, g.cols // a.cols
    out = mpmath.zeros(r, c)
    for k in range(r):
        for l in range(c):
            out[k, l] = mpmath.fsum(a[i, j] * g[i * r + k, j * c + l]
                                    for i in range(a.rows) for j in range(a.cols))
    return out


def _logsumexp(v):
    es = _entries(v)
    m = max(es)
    return mpmath.matrix([[m + mpmath.log(mpmath.fsum(mpmath.exp(e - m) for e in es))]])


def _softmax(v):
    m = max(_entries(v))
    ex = v.apply(lambda e: mpmath.exp(e - m))
    return ex / mpmath.fsum(_entries(ex))
'''

# Names the printed body of an elementwise function may use besides ``x`` and ``mpmath.<attribute>``.
_BODY_NAMES = frozenset({"x", "abs", "max", "min", "if", "else", "and", "or", "not", "True", "False"})
_BODY_OPS = frozenset({"(", ")", "+", "-", "*", "/", "**", ",", ".", "<", ">", "<=", ">=", "==", "!="})


class _FnPrinter(MpmathPrinter):
    """SymPy's mpmath printer, which also writes the functions mpmath has under SymPy's name (polygamma,
    besselj, ...) that SymPy's printer does not know."""

    def _print_Function(self, expr: sympy.Expr) -> str:
        name = type(expr).__name__
        if name.isidentifier() and callable(getattr(mpmath, name, None)):
            args = ", ".join(self._print(a) for a in expr.args)
            return f"{self._module_format('mpmath.' + name)}({args})"
        return super()._print_Function(expr)  # type: ignore[no-any-return]


def fn_source(fn: Fn) -> str:
    """The mpmath expression (in the variable ``x``) of an elementwise function's SymPy body, validated."""
    try:
        src = _FnPrinter().doprint(fn.body)
    except Exception as exc:  # SymPy raises its own printing errors for unsupported functions
        raise DerivativeError(f"elementwise function {fn.name!r} (x ↦ {fn.body}) cannot be printed "
                              f"as mpmath code: {exc}") from exc
    _validate(src, fn)
    return src


def _validate(src: str, fn: Fn) -> None:
    """Accept only names, numbers and arithmetic: ``x``, ``mpmath.<attribute>``, a few builtins and keywords."""
    bad = None
    try:
        toks = [t for t in tokenize.generate_tokens(io.StringIO(src).readline)
                if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        toks, bad = [], src
    for i, t in enumerate(toks):
        if t.type == tokenize.NUMBER:
            continue
        if t.type == tokenize.OP and t.string in _BODY_OPS:
            continue
        if t.type == tokenize.NAME:
            if t.string in _BODY_NAMES or (t.string == "mpmath" and i + 2 < len(toks) and toks[i + 1].string == "."):
                continue
            if i >= 2 and toks[i - 1].string == "." and toks[i - 2].string == "mpmath" and hasattr(mpmath, t.string):
                continue
        bad = t.string
        break
    if bad is not None:
        raise DerivativeError(f"elementwise function {fn.name!r} (x ↦ {fn.body}) printed as mpmath code "
                              f"contains {bad!r}, which is not a number, 'x' or an mpmath function")


def _number(v: Any) -> str:
    """A number as the argument of ``_c``/``mpmath.mpf``: ints exactly, floats by their shortest decimal."""
    if isinstance(v, Fraction):
        return f"mpmath.mpf({v.numerator}) / {v.denominator}"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ArgumentError(f"a constant must be a number, got {v!r}")
    return str(v) if isinstance(v, int) else repr(repr(float(v)))  # (numbers are ints or Fractions)


def _kind(e: Expr) -> str:
    r, c = e.shape
    return "scalar" if (r, c) == (ONE, ONE) else "row" if r == ONE else "col" if c == ONE else "mat"


class MpmathCodePrinter(Printer):
    """Emits one line ``_tK = <helper>(<operands>)`` per node; ``_print_<op>`` returns the right-hand side."""

    def __init__(self, dim_names: Mapping[sympy.Symbol, str]) -> None:
        super().__init__()
        self.dim_names = dict(dim_names)
        self.lines: list[str] = []
        self.fns: dict[Fn, str] = {}
        self.fn_lines: list[str] = []

    def emit(self, e: Expr) -> tuple[str, int]:
        r = self._memo.get(e)
        if r is None:
            method = getattr(self, f"_print_{e.op}", None)
            if method is None:
                raise NotImplementedError(f"the mpmath printer cannot print '{e.op}'")
            rhs = method(e)[0]
            var = f"_t{len(self.lines)}"
            self.lines.append(f"{var} = {rhs}")
            r = self._memo[e] = (var, ATOM)
        return r

    def var(self, e: Expr) -> str:
        return self.emit(e)[0]

    def call(self, helper: str, e: Expr, *extra: str) -> tuple[str, int]:
        return f"{helper}({', '.join([*(self.var(a) for a in e.args), *extra])})", ATOM

    def dim(self, d: sympy.Expr) -> str:
        if d.is_Integer:
            return str(int(d))
        missing = [s for s in d.free_symbols if s not in self.dim_names]
        if missing:
            raise ArgumentError(f"the size of dimension {missing[0]} cannot be read from the arguments' shapes; "
                                f"give it with dims={{{str(missing[0])!r}: ...}}")
        return str(d.xreplace({s: sympy.Symbol(self.dim_names[s]) for s in d.free_symbols}))

    # -- leaves ------------------------------------------------------------------------------------------------
    def _print_symbol(self, e: Expr) -> tuple[str, int]:  # pragma: no cover - arguments are bound before printing
        raise ArgumentError(f"the symbol {describe(e)} is not among the arguments")

    def _print_const(self, e: Expr) -> tuple[str, int]:
        return f"_c({_number(e.params[0])})", ATOM

    def _print_ones(self, e: Expr) -> tuple[str, int]:
        return f"_ones({self.dim(e.shape[0])}, {self.dim(e.shape[1])})", ATOM

    def _print_zeros(self, e: Expr) -> tuple[str, int]:
        return f"_zeros({self.dim(e.shape[0])}, {self.dim(e.shape[1])})", ATOM

    def _print_eye(self, e: Expr) -> tuple[str, int]:
        return f"_eye({self.dim(e.shape[0])})", ATOM

    # -- operations ----------------------------------------------------------------------------------------------
    def _print_add(self, e: Expr) -> tuple[str, int]:
        return self.call("_add", e)

    def _print_mul(self, e: Expr) -> tuple[str, int]:
        return self.call("_mul", e)

    def _print_matmul(self, e: Expr) -> tuple[str, int]:
        return self.call("_matmul", e)

    def _print_power(self, e: Expr) -> tuple[str, int]:
        p = e.params[0]
        return self.call("_pow", e, str(p) if isinstance(p, int) else f"_num({_number(p)})")

    def _print_transpose(self, e: Expr) -> tuple[str, int]:
        return self.call("_T", e)

    def _print_apply(self, e: Expr) -> tuple[str, int]:
        fn: Fn = e.params[0]
        name = self.fns.get(fn)
        if name is None:
            name = self.fns[fn] = f"_fn{len(self.fns)}"
            self.fn_lines.append(f"def {name}(x):\n    return {fn_source(fn)}\n")
        return self.call("_map", e, name)

    def _print_trace(self, e: Expr) -> tuple[str, int]:
        return self.call("_trace", e)

    def _print_det(self, e: Expr) -> tuple[str, int]:
        return self.call("_det", e)

    def _print_logdet(self, e: Expr) -> tuple[str, int]:
        return self.call("_logdet", e)

    def _print_inv(self, e: Expr) -> tuple[str, int]:
        return self.call("_inv", e)

    def _print_solve(self, e: Expr) -> tuple[str, int]:
        return self.call("_solve", e)

    def _print_sum(self, e: Expr) -> tuple[str, int]:
        return self.call("_sum", e)

    def _print_norm2(self, e: Expr) -> tuple[str, int]:
        return self.call("_norm2", e)

    def _print_diag(self, e: Expr) -> tuple[str, int]:
        return self.call("_diag", e)

    def _print_diagpart(self, e: Expr) -> tuple[str, int]:
        return self.call("_diagpart", e)

    def _print_kron(self, e: Expr) -> tuple[str, int]:
        return self.call("_kron", e)

    def _print_blockdot(self, e: Expr) -> tuple[str, int]:
        return self.call("_blockdot", e)

    def _print_blocksum(self, e: Expr) -> tuple[str, int]:
        return self.call("_blocksum", e)

    def _print_logsumexp(self, e: Expr) -> tuple[str, int]:
        return self.call("_logsumexp", e)

    def _print_softmax(self, e: Expr) -> tuple[str, int]:
        return self.call("_softmax", e)


def mpmath_code(exprs: Expr | Sequence[Expr], args: Sequence[Expr | str], name: str = "f",
                dims: Mapping[str, int] | None = None) -> str:
    """The source of a standalone function ``name(*args)`` evaluating ``exprs`` with mpmath (only ``import mpmath``).

    Dimension sizes are read from the arguments' shapes, or fixed by ``dims`` (dimension name → size). A list of
    expressions gives a function returning a tuple.
    """
    check_name(name, "function")
    es, many = outputs_of(exprs)
    syms = resolve_args(es, args)
    fixed: dict[sympy.Symbol, int] = {}
    for key, size in (dims or {}).items():
        d = dim_symbol(str(key))
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ArgumentError(f"mpmath_code: dimension {key!r} must be a positive int, got {size!r}")
        fixed[d] = size
    body: list[str] = []
    dim_names: dict[sympy.Symbol, str] = {}
    for d, size in sorted(fixed.items(), key=lambda kv: kv[0].name):
        dim_names[d] = f"_d_{d.name}"
        body.append(f"_d_{d.name} = {size}")
    for s in syms:
        body.append(f"{s.name} = _in({s.name}, {s.name!r}, {_kind(s)!r})")
    for s in syms:  # read sizes from the first argument that has them as a whole dimension
        for ax, attr in ((0, "rows"), (1, "cols")):
            d = s.shape[ax]
            if isinstance(d, sympy.Symbol) and d not in dim_names:
                dim_names[d] = f"_d_{d.name}"
                body.append(f"_d_{d.name} = {s.name}.{attr}")
    printer = MpmathCodePrinter(dim_names)
    for s in syms:
        printer._memo[s] = (s.name, ATOM)
        body.append(f"_shape({s.name}, {s.name!r}, {printer.dim(s.shape[0])}, {printer.dim(s.shape[1])})")
    for node in iter_nodes(es):  # children first, so emit never recurses deeply
        printer.emit(node)
    body.extend(printer.lines)
    outs = [f"_out({printer.var(e)})" for e in es]
    body.append(f"return ({', '.join(outs)},)" if many else f"return {outs[0]}")
    params = ", ".join(s.name for s in syms)
    fns = "\n\n".join(printer.fn_lines)
    return (PRELUDE + ("\n\n" + fns if fns else "") + f"\n\ndef {name}({params}):\n"
            + "".join(f"    {line}\n" for line in body))


def mpmath_function(args: Sequence[Expr | str], exprs: Expr | Sequence[Expr],
                    dims: Mapping[str, int] | None = None) -> Callable[..., Any]:
    """:func:`mpmath_code` compiled: a function of the arguments evaluating at the ambient mpmath precision."""
    src = mpmath_code(exprs, args, "f", dims)
    namespace: dict[str, Any] = {}
    exec(compile(src, "<matderiv mpmath code>", "exec"), namespace)  # generated from validated names and numbers
    fn = namespace["f"]
    fn.__matderiv_source__ = src
    return fn  # type: ignore[no-any-return]
