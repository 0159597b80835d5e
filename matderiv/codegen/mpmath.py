"""mpmath code: the source of a standalone function that evaluates expressions at mpmath precision.

The generated module imports only ``mpmath``. Every value inside it is an ``mpmath.matrix`` of the full 2-D shape
(vectors n×1, scalars 1×1); the function accepts mpmath matrices, nested lists, numpy arrays or numbers (vectors
may be flat) and returns an ``mpf`` for a 1×1 result and an ``mpmath.matrix`` otherwise. It computes at the
precision of the ambient context (``mpmath.mp.dps`` or ``with mpmath.workdps(...)``).

What each op computes is the op's own ``mpmath=`` definition (:class:`matderiv.core.spec.Op`), the reference every
backend is held to: the module includes the source of each definition it uses and of the module-level helpers
those call (functions whose names start with ``_``), each once, helpers first. A backend table, then: an op is a
call of its definition over its arguments and params; only the leaves and elementwise functions are printed
here (:class:`MpmathCodePrinter`).

One assignment per distinct DAG node, in topological order, so common subexpressions are computed once. Only
validated identifiers (parameter and dimension identifiers from :class:`~matderiv.codegen.common.Names`, which
keeps them clear of Python's keywords and of ``mpmath``), numbers and the ops' own definitions reach the source;
every helper and temporary the generator introduces starts with ``_``, which a symbol name cannot. A dimension no argument's shape gives is fixed by ``dims`` or, failing that, is a
keyword-only parameter named after it, as in the numpy code.
"""
from __future__ import annotations

import ast
import builtins
import copy
import inspect
import io
import textwrap
import tokenize
import types
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping, Sequence

import mpmath
import sympy
from sympy.printing.pycode import MpmathPrinter

from ..core.errors import ArgumentError, DerivativeError
from ..core.expr import ONE, OPS, Expr, describe, dim_symbol, iter_nodes
from ..core.functions import Fn
from ..printing.base import ATOM
from .args import Arguments, call_with_dims
from .common import Names, function_name, mpmath_number, outputs_of, reserved, resolve_args

#: The generic helpers of every generated module: argument conversion and checks, numbers, leaves, the result.
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


def _dim(v, name):
    """A keyword dimension: a positive integer."""
    if isinstance(v, bool) or not hasattr(v, "__index__") or v < 1:
        raise ValueError(f"dimension {name} must be a positive integer, got {v!r}")
    return int(v)


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
'''
_PRELUDE_NAMES = frozenset(n.name for n in ast.parse(PRELUDE).body if isinstance(n, ast.FunctionDef))
#: Global names of the generated module besides the parameters: the module, and every generated name starts with _.
RESERVED = reserved("mpmath")


# ---- the ops' definitions, as source --------------------------------------------------------------------------------
class _Definition:
    """A function's source as a tree without annotations, and the module-level helpers it calls."""

    def __init__(self, fn: types.FunctionType, what: str) -> None:
        if fn.__name__ == "<lambda>" or "<locals>" in fn.__qualname__:
            raise NotImplementedError(f"{what} must be a function defined at the top level of its module "
                                      f"(got {fn.__qualname__}), so that the mpmath code can include its source")
        try:
            src = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError) as exc:
            raise NotImplementedError(f"{what}: the source of {fn.__qualname__} cannot be read ({exc}), so the "
                                      "standalone mpmath code cannot include it") from None
        tree = ast.parse(src)
        node = tree.body[0]
        if not isinstance(node, ast.FunctionDef) or node.decorator_list:
            raise NotImplementedError(f"{what} must be a plain def without decorators")
        for a in ast.walk(node):  # annotations name types the standalone module does not import
            if isinstance(a, ast.arg):
                a.annotation = None
            elif isinstance(a, ast.FunctionDef):
                a.returns = None
        self.fn, self.node = fn, node
        self._sources: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        bound = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        bound |= {a.id for a in ast.walk(node) if isinstance(a, ast.Name) and isinstance(a.ctx, ast.Store)}
        free = {a.id for a in ast.walk(node) if isinstance(a, ast.Name) and isinstance(a.ctx, ast.Load)} - bound
        self.helpers: dict[str, types.FunctionType] = {}
        for name in sorted(free):
            g = fn.__globals__.get(name)
            if isinstance(g, types.FunctionType) and name.startswith("_"):
                self.helpers[name] = g
            elif name == "mpmath" and g is mpmath:
                continue
            elif name not in fn.__globals__ and hasattr(builtins, name):
                continue
            else:
                raise NotImplementedError(f"{what} ({fn.__qualname__}) uses the global {name!r}, which the "
                                          "standalone mpmath module cannot include: use mpmath, builtins and "
                                          "module-level functions whose names start with '_'")

    def source(self, names: Mapping[types.FunctionType, str]) -> str:
        """The definition under its name in the generated module, calling the helpers by theirs."""
        rename = {name: names[h] for name, h in self.helpers.items()}
        key = (names[self.fn], tuple(sorted(rename.items())))
        src = self._sources.get(key)
        if src is None:
            node = copy.deepcopy(self.node)
            node.name = key[0]
            for a in ast.walk(node):
                if isinstance(a, ast.Name) and a.id in rename:
                    a.id = rename[a.id]
            src = self._sources[key] = ast.unparse(node) + "\n"
        return src


_DEFINITIONS: dict[types.FunctionType, _Definition] = {}


def _definition(fn: types.FunctionType, what: str) -> _Definition:
    d = _DEFINITIONS.get(fn)
    if d is None:
        d = _DEFINITIONS[fn] = _Definition(fn, what)
    return d


class _Module:
    """The op definitions a generated module includes: each function once, helpers before their callers, each
    under a name starting with ``_`` that no other function or prelude helper has."""

    def __init__(self) -> None:
        self.names: dict[types.FunctionType, str] = {}
        self.order: list[_Definition] = []
        self._taken = set(_PRELUDE_NAMES)

    def include(self, fn: Any, what: str) -> str:
        """The generated name of ``fn`` (including it, and its helpers first, on first use)."""
        if not isinstance(fn, types.FunctionType):
            raise NotImplementedError(f"{what} must be a Python function, got {type(fn).__name__}")
        name = self.names.get(fn)
        if name is not None:
            return name
        d = _definition(fn, what)
        self.names[fn] = ""  # in progress: mutual recursion between helpers terminates
        for h in d.helpers.values():
            self.include(h, f"the helper {h.__qualname__} of {what}")
        want = fn.__name__ if fn.__name__.startswith("_") else "_" + fn.__name__
        name, k = want, 1
        while name in self._taken:
            k += 1
            name = f"{want}_{k}"
        self._taken.add(name)
        self.names[fn] = name
        self.order.append(d)
        return name

    def source(self) -> str:
        return "\n\n".join(d.source(self.names) for d in self.order)


def op_functions(ops: Iterable[str]) -> str:
    """The source the generated module includes for the ops ``ops``: their ``mpmath=`` definitions and helpers."""
    m = _Module()
    for op in ops:
        m.include(OPS[op].mpmath, f"the mpmath definition of op {op!r}")
    return m.source()


# ---- elementwise functions -----------------------------------------------------------------------------------------
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


def _kind(e: Expr) -> str:
    r, c = e.shape
    return "scalar" if (r, c) == (ONE, ONE) else "row" if r == ONE else "col" if c == ONE else "mat"


# ---- the printer ---------------------------------------------------------------------------------------------------
class MpmathCodePrinter:
    """Emits one line ``_tK = <definition>(<operands>, <params>)`` per node: the op's ``mpmath=`` definition
    (included in the module), except for the leaves and elementwise functions, which ``_print_<op>`` print."""

    def __init__(self, dims: Arguments | Mapping[sympy.Symbol, str]) -> None:
        self._memo: dict[Expr, tuple[str, int]] = {}
        if not isinstance(dims, Arguments):  # a plain mapping dimension → identifier
            names = Names(RESERVED)
            plain = Arguments([], names)
            plain.dim_names.update(dims)
            dims = plain
        self.dims = dims
        self.lines: list[str] = []
        self.fns: dict[Fn, str] = {}
        self.fn_lines: list[str] = []
        self.module = _Module()

    def emit(self, e: Expr) -> tuple[str, int]:
        r = self._memo.get(e)
        if r is None:
            method = getattr(self, f"_print_{e.op}", None)
            rhs = method(e)[0] if method is not None else self.definition(e)[0]
            var = f"_t{len(self.lines)}"
            self.lines.append(f"{var} = {rhs}")
            r = self._memo[e] = (var, ATOM)
        return r

    def var(self, e: Expr) -> str:
        return self.emit(e)[0]

    def call(self, helper: str, e: Expr, *extra: str) -> tuple[str, int]:
        return f"{helper}({', '.join([*(self.var(a) for a in e.args), *extra])})", ATOM

    def definition(self, e: Expr) -> tuple[str, int]:
        """A call of the op's own ``mpmath=`` definition on the node's arguments and params."""
        op = OPS.get(e.op)
        if op is None or op.mpmath is None:
            raise NotImplementedError(f"the mpmath printer cannot print '{e.op}': its op has no mpmath= definition")
        name = self.module.include(op.mpmath, f"the mpmath definition of op {e.op!r}")
        return self.call(name, e, *(self.param(e, p) for p in e.params))

    def param(self, e: Expr, p: Any) -> str:
        """A param as an argument of an op's definition: an int as itself, other numbers as mpf."""
        if p is None:
            return "None"
        if isinstance(p, int) and not isinstance(p, bool):
            return str(p)
        if isinstance(p, (float, Fraction)):
            return f"_num({mpmath_number(p)})"
        if isinstance(p, sympy.Expr):  # a dimension: its size in the generated code
            return self.dim(p)
        raise NotImplementedError(f"the mpmath printer cannot pass the param {p!r} of '{e.op}' to its definition; "
                                  f"give the printer a _print_{e.op}")

    def dim(self, d: sympy.Expr) -> str:
        """A dimension's code: a number, a fixed size, a size read from an argument, or a keyword parameter."""
        return self.dims.dim_code(d)

    # -- leaves and elementwise functions ----------------------------------------------------------------------------
    def _print_symbol(self, e: Expr) -> tuple[str, int]:  # pragma: no cover - arguments are bound before printing
        raise ArgumentError(f"the symbol {describe(e)} is not among the arguments")

    def _print_const(self, e: Expr) -> tuple[str, int]:
        return f"_c({mpmath_number(e.params[0])})", ATOM

    def _print_ones(self, e: Expr) -> tuple[str, int]:
        return f"_ones({self.dim(e.shape[0])}, {self.dim(e.shape[1])})", ATOM

    def _print_zeros(self, e: Expr) -> tuple[str, int]:
        return f"_zeros({self.dim(e.shape[0])}, {self.dim(e.shape[1])})", ATOM

    def _print_eye(self, e: Expr) -> tuple[str, int]:
        return f"_eye({self.dim(e.shape[0])})", ATOM

    def _print_apply(self, e: Expr) -> tuple[str, int]:
        """f(X): the op's definition (``_map``) with the function's body printed by SymPy as ``_fnK``."""
        fn: Fn = e.params[0]
        name = self.fns.get(fn)
        if name is None:
            name = self.fns[fn] = f"_fn{len(self.fns)}"
            self.fn_lines.append(f"def {name}(x):\n    return {fn_source(fn)}\n")
        helper = self.module.include(OPS["apply"].mpmath, "the mpmath definition of op 'apply'")
        return self.call(helper, e, name)


# ---- the function ----------------------------------------------------------------------------------------------------
class MpmathFunction:
    """The mpmath source of ``name(*params)`` returning ``outputs`` (a tuple when ``many``)."""

    def __init__(self, outputs: Sequence[Expr], params: Sequence[Expr], name: str, many: bool,
                 dims: Mapping[str, int] | None = None) -> None:
        fixed: dict[sympy.Symbol, int] = {}
        for key, size in (dims or {}).items():
            d = dim_symbol(str(key))
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ArgumentError(f"mpmath_code: dimension {key!r} must be a positive int, got {size!r}")
            fixed[d] = size
        self.outputs, self.params, self.name, self.many = list(outputs), list(params), name, many
        self.names = Names(RESERVED)
        self.names.taken.add(name)
        self.args = Arguments(self.params, self.names, fixed, self.outputs)
        self.source = self._source()
        self.keywords = self.args.keyword_names()

    def _source(self) -> str:
        a = self.args
        printer = MpmathCodePrinter(a)
        for s in self.params:
            printer._memo[s] = (a.pnames[s], ATOM)
        for node in iter_nodes(self.outputs):  # children first, so emit never recurses deeply
            printer.emit(node)
        outs = [f"_out({printer.var(e)})" for e in self.outputs]
        body: list[str] = []
        for d, k in a.keywords.items():
            body.append(f"{k} = _dim({k}, {d.name!r})")
        for d, size in sorted(a.fixed.items(), key=lambda kv: kv[0].name):
            body.append(f"{a.dim_names[d]} = {size}")
        for s in self.params:
            v = a.pnames[s]
            body.append(f"{v} = _in({v}, {s.name!r}, {_kind(s)!r})")
        for s in self.params:  # sizes from the argument that binds them (its first whole use)
            for use in a.uses(s):
                if a.is_binding(use):
                    axis = ("rows" if s.shape[0] != ONE else "cols") if use.what == "length" else \
                        ("rows" if use.what == "rows" else "cols")
                    body.append(f"{a.dim_names[use.dim]} = {a.pnames[s]}.{axis}")
        for s in self.params:
            r, c = s.shape
            if all(a.known(d) for d in (r, c)):
                body.append(f"_shape({a.pnames[s]}, {s.name!r}, {a.dim_code(r)}, {a.dim_code(c)})")
        body.extend(printer.lines)
        body.append(f"return ({', '.join(outs)},)" if self.many else f"return {outs[0]}")
        defs = printer.module.source()
        fns = "\n\n".join(printer.fn_lines)
        return (PRELUDE + ("\n\n" + defs if defs else "") + ("\n\n" + fns if fns else "")
                + f"\n\ndef {self.name}({a.signature()}):\n" + "".join(f"    {line}\n" for line in body))


def mpmath_code(exprs: Expr | Sequence[Expr], args: Sequence[Expr | str], name: str = "f",
                dims: Mapping[str, int] | None = None) -> str:
    """The source of a standalone function ``name(*args)`` evaluating ``exprs`` with mpmath (only ``import mpmath``).

    Dimension sizes are read from the arguments' shapes, or fixed by ``dims`` (dimension name → size); a
    dimension neither gives is a keyword-only parameter named after it (``def f(s, *, n):``). A list of
    expressions gives a function returning a tuple.
    """
    name = function_name(name, frozenset({"mpmath"}))
    es, many = outputs_of(exprs)
    syms = resolve_args(es, args)
    return MpmathFunction(es, syms, name, many, dims).source


def mpmath_function(args: Sequence[Expr | str], exprs: Expr | Sequence[Expr],
                    dims: Mapping[str, int] | None = None) -> Callable[..., Any]:
    """:func:`mpmath_code` compiled: a function of the arguments evaluating at the ambient mpmath precision.
    Dimensions neither the arguments nor ``dims`` give are keywords (``fn(2, n=4)``; a missing one raises
    :class:`~matderiv.errors.ArgumentError`)."""
    es, many = outputs_of(exprs)
    syms = resolve_args(es, args)
    gen = MpmathFunction(es, syms, "f", many, dims)
    src = gen.source
    namespace: dict[str, Any] = {}
    exec(compile(src, "<matderiv mpmath code>", "exec"), namespace)  # generated from validated names and numbers
    inner = namespace["f"]
    fn = inner
    if gen.keywords:
        keywords = gen.keywords

        def fn(*values: Any, **sizes: Any) -> Any:
            return inner(*values, **call_with_dims("the mpmath function", keywords, sizes))
        fn.__wrapped__ = inner  # type: ignore[attr-defined]
    fn.__matderiv_source__ = src  # type: ignore[attr-defined]
    return fn  # type: ignore[no-any-return]


__all__ = ["mpmath_code", "mpmath_function", "MpmathCodePrinter", "MpmathFunction", "PRELUDE", "op_functions",
           "fn_source"]
