"""The NumPy printer: the IR lowered to what numpy computes well, then printed one statement per shared value.

Three steps, one class each:

* :class:`Lowering` turns canonical expressions (:class:`matderiv.codegen.Canonical`: one value for V and Vᵀ)
  into :class:`Node` s whose ops are numpy's own: ``dot`` (``@`` on 1-D and 2-D arrays), ``outer``, ``sumaxis``,
  ``solve`` (A⁻¹B) and ``rsolve`` (BA⁻¹), elementwise ops with broadcasting, ... Matrix chains are ordered by
  the classic dynamic programme; diag(v) factors become broadcast products, never an n×n matrix; ones factors
  become sums or broadcasts; inverses followed or preceded by a factor become solves.
* :class:`NumPyPrinter` prints a node from its arguments' code, dispatching on ``_print_<op>``.
* :class:`NumPyFunction` assembles the function: argument conversion and shape checks, dimension bindings,
  one temporary per value used twice (in topological order), and the return statement.

Each node has a *kind* — ``s`` scalar (1×1), ``c`` column (n×1) and ``r`` row (1×m), both held as 1-D arrays,
``m`` matrix (2-D) — and may be *lazy*: a matrix 𝟏rᵀ (``rows``) or c𝟏ᵀ (``cols``) held as its 1-D vector, which
numpy broadcasts inside elementwise operations (printed ``r`` and ``c[:, None]``) and which is materialised
(``np.broadcast_to``) only where a real matrix is needed.
"""
from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple, Sequence

import sympy
from sympy.printing.numpy import NumPyPrinter as _SymPyNumPyPrinter
from sympy.printing.pycode import pycode

from .common import (Canonical, Names, dim_bindings, dim_uses, function_name, outputs_of, parameter_names, resolve_args,
                     use_counts)
from ..core.errors import ArgumentError, ShapeError
from ..core.expr import ONE, OPS, Expr, iter_nodes
from ..core.functions import NAMED, Fn
from ..core.functions import x as _X
from ..printing.base import ADD, ATOM, MUL, NEG, POW, fmt_number

Shape = tuple[sympy.Expr, sympy.Expr]
_FLIP = {"rows": "cols", "cols": "rows", "": ""}
_BIG = 1000  # the size assumed for a symbolic dimension when ordering a chain of products
_LONG = 100  # inline code longer than this gets a temporary of its own


def _symmetric_op(op: str) -> bool:
    """Whether the IR op's values equal their transposes (its spec says so: I, diag v)."""
    return op in OPS and OPS[op].transpose == "symmetric"


def kind_of(shape: Shape) -> str:
    """``s`` (1×1), ``c`` (n×1), ``r`` (1×m) or ``m``."""
    r, c = shape
    if r == ONE:
        return "s" if c == ONE else "r"
    return "c" if c == ONE else "m"


class Node:
    """A value of the generated code: ``op`` over ``args`` (interned by :class:`Lowering`: equal is identical)."""

    __slots__ = ("op", "args", "params", "shape", "kind", "lazy")

    def __init__(self, op: str, args: tuple[Node, ...], params: tuple[Any, ...], shape: Shape, lazy: str) -> None:
        self.op, self.args, self.params, self.shape, self.lazy = op, args, params, shape, lazy
        self.kind = kind_of(shape)

    def __repr__(self) -> str:
        return f"Node({self.op}, {self.params}, {self.shape}, {self.kind}{'/' + self.lazy if self.lazy else ''})"


class Item(NamedTuple):
    """A factor of a matrix chain: ``dense`` (the value ``node``), ``diag`` (diag of the vector ``node``), ``inv``
    (the inverse of ``node``), ``onesc``/``onesr`` (a ones column/row, ``node`` its array); ``shape`` is the
    factor's shape."""

    typ: str
    node: Node
    shape: Shape


# ---- lowering -------------------------------------------------------------------------------------------------------
class Lowering:
    """Canonical IR → numpy nodes."""

    def __init__(self, arg_names: dict[Expr, str]) -> None:
        self.arg_names = arg_names
        self._table: dict[tuple[Any, ...], Node] = {}
        self._memo: dict[Expr, Node] = {}
        self._sizes: dict[sympy.Expr, float] = {}

    def make(self, op: str, args: tuple[Node, ...], params: tuple[Any, ...], shape: Shape, lazy: str = "") -> Node:
        key = (op, args, params, shape, lazy)
        n = self._table.get(key)
        if n is None:
            n = self._table[key] = Node(op, args, params, shape, lazy)
        return n

    # -- small builders --
    def num(self, v: float) -> Node:
        return self.make("num", (), (v,), (ONE, ONE))

    def dim(self, d: sympy.Expr) -> Node:
        return self.make("dim", (), (d,), (ONE, ONE))

    def fill(self, value: int, shape: Shape) -> Node:
        return self.num(value) if shape == (ONE, ONE) else self.make("fill", (), (value,), shape)

    def t(self, n: Node) -> Node:
        """nᵀ (a no-op on scalars and symmetric values; a view otherwise)."""
        shape = (n.shape[1], n.shape[0])
        if n.kind == "s" or _symmetric_op(n.op) or (n.op == "arg" and n.params[1]):
            return n
        if n.op == "T":
            return n.args[0]
        if n.op == "fill":
            return self.make("fill", (), n.params, shape)
        if n.op == "bcast":
            way = _FLIP[n.params[0]]
            return self.make("bcast", (self.t(n.args[0]),), (way, n.params[1]), shape, way)
        return self.make("T", (n,), (), shape, _FLIP[n.lazy])

    def bcast(self, v: Node, way: str, d: sympy.Expr) -> Node:
        """𝟏vᵀ (``rows``: the row v repeated over d rows) or v𝟏ᵀ (``cols``), held lazily as v."""
        shape = (d, v.shape[1]) if way == "rows" else (v.shape[0], d)
        return self.make("bcast", (v,), (way, d), shape, way)

    def vec(self, n: Node) -> Node:
        """The vector a lazy matrix is held as (a row for ``rows``, a column for ``cols``)."""
        if n.op == "bcast":
            return n.args[0]
        shape = (ONE, n.shape[1]) if n.lazy == "rows" else (n.shape[0], ONE)
        return self.make("vec", (n,), (), shape)

    def full(self, n: Node) -> Node:
        """``n`` as a real array (a lazy matrix is broadcast)."""
        return self.make("full", (n,), (), n.shape) if n.lazy else n

    def elementwise(self, op: str, args: Sequence[Node], params: tuple[Any, ...], shape: Shape) -> Node:
        """An elementwise node; all-ones/zeros operands beside a full-size one become numbers (broadcasting)."""
        args = list(args)
        if op in ("add", "mul") and any(a.kind != "s" and a.op != "fill" for a in args):
            args = [self.num(a.params[0]) if a.op == "fill" else a for a in args]
        lazy = ""
        if kind_of(shape) == "m":
            ways = {a.lazy for a in args if a.kind != "s"}
            if len(ways) == 1 and "" not in ways:
                lazy = ways.pop()
        return self.make(op, tuple(args), params, shape, lazy)

    def mul(self, args: Sequence[Node], shape: Shape) -> Node:
        return args[0] if len(args) == 1 else self.elementwise("mul", args, (), shape)

    # -- expressions --
    def lower(self, e: Expr) -> Node:
        for n in iter_nodes([e]):
            if n not in self._memo:
                self._memo[n] = self._lower(n)
        return self._memo[e]

    def output(self, n: Node) -> Node:
        return self.full(n)

    def _lower(self, e: Expr) -> Node:
        op, a = e.op, [self._memo[x] for x in e.args]
        if op == "symbol":
            return self.make("arg", (), (self.arg_names[e], e.symmetric), e.shape)
        if op == "const":
            return self.num(e.params[0])
        if op in ("ones", "zeros"):
            return self.fill(1 if op == "ones" else 0, e.shape)
        if op == "eye":
            return self.make("eye", (), (), e.shape)
        if op == "transpose":
            return self.t(a[0])
        if op in ("add", "mul", "power", "apply"):
            return self.elementwise(op, a, e.params, e.shape)
        if op == "matmul":
            return self.chain(e)
        if op == "sum":
            return self.sum(a[0])
        if op in ("inv", "det", "logdet", "trace", "norm2", "diag", "diagpart", "kron", "blockdot", "blocksum",
                  "logsumexp", "softmax", "solve"):
            return self.make(op, tuple(self.full(x) for x in a), (), e.shape)
        raise NotImplementedError(f"the numpy printer cannot print the operation '{op}'")

    def sum(self, n: Node) -> Node:
        """sum(𝟏rᵀ) = n·Σr, sum(c𝟏ᵀ) = m·Σc; otherwise ``x.sum()``."""
        if n.kind == "s":
            return n
        if n.lazy:
            d = n.shape[0] if n.lazy == "rows" else n.shape[1]
            return self.mul([self.dim(d), self.make("sumall", (self.vec(n),), (), (ONE, ONE))], (ONE, ONE))
        return self.make("sumall", (n,), (), (ONE, ONE))

    # -- matrix chains --
    def ones_item(self, shape: Shape) -> Item:
        return Item("onesc" if shape[1] == ONE else "onesr", self.fill(1, shape), shape)

    def items(self, f: Expr) -> list[Item] | None:
        """The chain factors of the canonical factor ``f`` (None for an identity)."""
        if f.op == "eye":
            return None
        if f.op == "ones":
            p, q = f.shape
            if p == ONE or q == ONE:
                return [self.ones_item(f.shape)]
            return [self.ones_item((p, ONE)), self.ones_item((ONE, q))]  # 𝟏𝟏ᵀ
        if f.op in ("diag", "inv") or (f.op == "transpose" and f.args[0].op == "inv"):
            g = f.args[0] if f.op == "transpose" else f
            inner = self._memo[g.args[0]]
            return [Item(g.op, self.t(inner) if g is not f else inner, f.shape)]  # (A⁻¹)ᵀ = (Aᵀ)⁻¹
        n = self._memo[f]
        r, c = n.shape
        if n.lazy == "rows":  # 𝟏rᵀ
            return [self.ones_item((r, ONE)), Item("dense", self.vec(n), (ONE, c))]
        if n.lazy == "cols":  # c𝟏ᵀ
            return [Item("dense", self.vec(n), (r, ONE)), self.ones_item((ONE, c))]
        return [Item("dense", n, n.shape)]

    def chain(self, e: Expr) -> Node:
        """A₁A₂⋯A_k: numbers pulled out, the chain cut where an inner dimension is 1 (an outer product), each
        piece multiplied in the cheapest order (:meth:`segment`)."""
        if any(f.op == "zeros" for f in e.args):
            return self.fill(0, e.shape)
        scalars = [self._memo[f] for f in e.args if f.is_scalar]
        items: list[Item] = []
        for f in e.args:
            if not f.is_scalar:
                items += self.items(f) or []
        if not items:  # numbers and identities
            return self.mul(scalars, e.shape) if scalars else self.make("eye", (), (), e.shape)
        segments: list[list[Item]] = [[]]
        for i, it in enumerate(items):
            segments[-1].append(it)
            if i < len(items) - 1 and it.shape[1] == ONE:
                segments.append([])
        parts = [self.segment(seg) for seg in segments]
        if len(parts) == 1:
            result = self.realize(parts[0])
        else:  # (p×1)(1×1)⋯(1×1)(1×q): numbers times an outer product
            first, last = parts[0], parts[-1]
            scalars += [self.realize(it) for it in parts[1:-1]]
            col, row = first, last
            if first.shape[0] == ONE:
                scalars.append(self.realize(first))
            if last.shape[1] == ONE:
                scalars.append(self.realize(last))
            if first.shape[0] == ONE and last.shape[1] == ONE:
                return self.mul(scalars, e.shape)
            if first.shape[0] == ONE or last.shape[1] == ONE:
                result = self.realize(row if first.shape[0] == ONE else col)
            elif col.typ == "onesc" and row.typ == "onesr":
                result = self.fill(1, e.shape)
            elif col.typ == "onesc":
                result = self.bcast(self.realize(row), "rows", col.shape[0])
            elif row.typ == "onesr":
                result = self.bcast(self.realize(col), "cols", row.shape[1])
            else:
                result = self.make("outer", (self.realize(col), self.realize(row)), (), e.shape)
        return self.mul(scalars + [result], e.shape) if scalars else result

    def realize(self, it: Item) -> Node:
        """The factor as an array (a diag(v) or an inverse materialised)."""
        if it.typ in ("diag", "inv"):
            return self.make(it.typ, (it.node,), (), it.shape)
        return it.node

    def size(self, d: sympy.Expr) -> float:
        s = self._sizes.get(d)
        if s is None:
            s = self._sizes[d] = float(d) if d.is_Integer else float(d.subs({x: _BIG for x in d.free_symbols}))
        return s

    def _cost(self, tl: str, tr: str, p: float, q: float, r: float) -> tuple[str, float]:
        """The type and the cost (multiply-adds) of the product of two factors p×q and q×r."""
        if tl == "diag" and tr == "diag":
            return "diag", q
        if tl == "onesr" and tr == "onesc":
            return "dense", 1
        if tl == "inv" and tr == "inv":
            return "dense", 2 * q ** 3
        if tl == "inv":
            return "dense", (q ** 3 + q * q) if tr == "diag" else q ** 3 / 3 + q * q * r
        if tr == "inv":
            return "dense", (q ** 3 + q * q) if tl == "diag" else q ** 3 / 3 + p * q * q
        if tl == "onesr":
            return "dense", q if tr == "diag" else q * r
        if tr == "onesc":
            return "dense", q if tl == "diag" else p * q
        if tl == "diag" or tr == "diag":
            return "dense", p * r
        return "dense", p * q * r

    def segment(self, items: list[Item]) -> Item:
        """The product of a chain with no inner dimension 1, in the cheapest order (the classic O(k³) programme,
        symbolic dimensions counted as 1000 so that products with vectors come first)."""
        k = len(items)
        if k == 1:
            return items[0]
        dims = [self.size(it.shape[0]) for it in items] + [self.size(items[-1].shape[1])]
        best: dict[tuple[int, int], tuple[float, str, int]] = {(i, i): (0.0, it.typ, -1)
                                                               for i, it in enumerate(items)}
        for length in range(2, k + 1):
            for i in range(0, k - length + 1):
                j = i + length - 1
                choice = (float("inf"), "", -1)
                for s in range(i, j):
                    cl, tl, _ = best[(i, s)]
                    cr, tr, _ = best[(s + 1, j)]
                    typ, c = self._cost(tl, tr, dims[i], dims[s + 1], dims[j + 1])
                    if cl + cr + c < choice[0]:
                        choice = (cl + cr + c, typ, s)
                best[(i, j)] = choice

        def build(i: int, j: int) -> Item:
            if i == j:
                return items[i]
            s = best[(i, j)][2]
            return self.product(build(i, s), build(s + 1, j))
        return build(0, k - 1)

    def product(self, left: Item, right: Item) -> Item:
        """L R for two factors, in numpy's forms: diag(v) X = v[:, None] * X, 𝟏ᵀX = X.sum(axis=0),
        A⁻¹X = solve(A, X), X A⁻¹ = solve(Aᵀ, Xᵀ)ᵀ, and ``L @ R`` otherwise."""
        shape = (left.shape[0], right.shape[1])
        tl, tr, ln, rn = left.typ, right.typ, left.node, right.node

        def dense(n: Node) -> Item:
            return Item("dense", n, shape)

        def scale_rows(v: Node, x: Node) -> Node:  # diag(v) X
            return self.mul([self.bcast(v, "cols", shape[1]) if x.kind == "m" else v, x], shape)

        def scale_cols(x: Node, v: Node) -> Node:  # X diag(v)
            return self.mul([x, self.bcast(self.t(v), "rows", shape[0]) if x.kind == "m" else self.t(v)], shape)

        def total(x: Node, axis: int) -> Node:  # 𝟏ᵀX (axis 0), X𝟏 (axis 1)
            if x.kind == "m":
                return self.make("sumaxis", (x,), (axis,), shape)
            return self.make("sumall", (x,), (), shape)

        if tl == "diag" and tr == "diag":
            return Item("diag", self.mul([ln, rn], ln.shape), shape)
        if tl == "onesr" and tr == "onesc":
            return dense(self.dim(left.shape[1]))
        if tl == "inv":
            if tr == "diag":
                return dense(scale_cols(self.realize(left), rn))
            return dense(self.make("solve", (ln, self.realize(right)), (), shape))
        if tr == "inv":
            if tl == "diag":
                return dense(scale_rows(ln, self.realize(right)))
            return dense(self.make("rsolve", (self.realize(left), rn), (), shape))
        if tl == "onesr":
            return dense(self.t(rn) if tr == "diag" else total(rn, 0))
        if tr == "onesc":
            return dense(ln if tl == "diag" else total(ln, 1))
        if tl == "diag":
            return dense(scale_rows(ln, rn))
        if tr == "diag":
            return dense(scale_cols(ln, rn))
        return dense(self.make("dot", (ln, rn), (), shape))


# ---- elementwise functions via SymPy --------------------------------------------------------------------------------
_SLOT = "\x00"


class _FnPrinter(_SymPyNumPyPrinter):
    """SymPy's NumPy printer writing ``np.`` and the argument slot for the variable x."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True})

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return _SLOT if expr == _X else super()._print_Symbol(expr)

    def _module_format(self, fqn: str, register: bool = True) -> str:
        s = super()._module_format(fqn, register)
        return "np." + s[len("numpy."):] if s.startswith("numpy.") else s

    def _print_Abs(self, expr: sympy.Expr) -> str:
        return f"{self._module_format('numpy.abs')}({self._print(expr.args[0])})"

    def _minmax(self, expr: sympy.Expr, fn: str) -> str:
        args = [self._print(a) for a in expr.args]
        out = args[-1]
        for a in reversed(args[:-1]):
            out = f"{self._module_format(fn)}({a}, {out})"
        return out

    def _print_Max(self, expr: sympy.Expr) -> str:
        return self._minmax(expr, "numpy.maximum")

    def _print_Min(self, expr: sympy.Expr) -> str:
        return self._minmax(expr, "numpy.minimum")


# step(x) = 1 for x > 0 else 0: a comparison is 6× faster than np.heaviside(x, 0.0) and gives the same numbers.
_TEMPLATES: dict[Fn, tuple[str, int, bool, bool]] = {
    NAMED["step"]: (f"np.greater({_SLOT}, 0.0).astype(np.float64)", 1, True, True),
}


def _atomic(code: str) -> bool:
    """Whether ``code`` is a name, a call or a parenthesised whole (needs no parentheses around it)."""
    m = re.match(r"[A-Za-z_][\w.]*", code)
    i = m.end() if m else 0
    if i == len(code):
        return True
    if code[i] != "(":
        return False
    depth = 0
    for j in range(i, len(code)):
        depth += {"(": 1, ")": -1}.get(code[j], 0)
        if depth == 0:
            return j == len(code) - 1
    return False


def fn_template(fn: Fn) -> tuple[str, int, bool, bool]:
    """``(template, uses of x, atomic, bare)``: fn's body printed by SymPy's NumPy printer with a slot for x;
    ``atomic``: the code needs no parentheses; ``bare``: x only appears as a whole argument of calls."""
    t = _TEMPLATES.get(fn)
    if t is None:
        p = _FnPrinter()
        try:
            code = p.doprint(fn.body)
        except Exception as exc:  # SymPy raises PrintMethodNotImplementedError (and others) for unknown functions
            raise ArgumentError(f"elementwise function {fn.name!r} (x ↦ {fn.body}) cannot be written with numpy: "
                                f"{str(exc).splitlines()[0]}") from None
        others = sorted(set(p.module_imports) - {"numpy"})
        if others:
            raise ArgumentError(f"elementwise function {fn.name!r} (x ↦ {fn.body}) needs {', '.join(others)}, "
                                "which the numpy code cannot use elementwise")
        if _SLOT not in code:  # a constant body (an irrational number): one value per entry of x
            code = f"np.full(np.shape({_SLOT}), {code})"
        bare = len(re.findall(rf"(?:\(|, ){_SLOT}(?=[,)])", code)) == code.count(_SLOT)
        t = _TEMPLATES[fn] = (code, code.count(_SLOT), _atomic(code), bare)
    return t


# ---- printing --------------------------------------------------------------------------------------------------------
_SIMPLE = re.compile(r"^(?:[A-Za-z_]\w*(?:\.T|\[:, None\])?|-?[\d.]+(?:e-?\d+)?)$")
_TRIVIAL = frozenset({"arg", "num", "dim", "T", "bcast", "vec"})
Code = tuple[str, int]


class NumPyPrinter:
    """Prints nodes in topological order; each ``_print_<op>`` returns ``(code, binding strength)`` and may ask
    for an argument by name (:meth:`name`) or for a helper statement (:meth:`aux`)."""

    def __init__(self, names: Names, dim_names: dict[sympy.Symbol, str]) -> None:
        self.names = names
        self.dim_names = dim_names
        self.lines: list[str] = []
        self.codes: dict[Node, Code] = {}
        self.bound: set[Node] = set()

    # -- helpers --
    def emit(self, n: Node) -> Code:
        method: Callable[[Node], Code] = getattr(self, f"_print_{n.op}")
        return method(n)

    def code(self, n: Node) -> Code:
        return self.codes[n]

    @staticmethod
    def wrap(c: Code, level: int) -> str:
        """The code, parenthesised when it binds looser than ``level``."""
        return c[0] if c[1] >= level else f"({c[0]})"

    def atom(self, n: Node) -> str:
        return self.wrap(self.code(n), ATOM)

    def ew(self, n: Node, parent: Node) -> Code:
        """``n`` as an operand of the elementwise ``parent``: a lazy column in a full result is ``c[:, None]``."""
        if n.lazy == "cols" and not parent.lazy:
            return f"{self.atom(n)}[:, None]", ATOM
        return self.code(n)

    def bind(self, n: Node, code: str) -> str:
        name = self.aux(code)
        self.codes[n] = (name, ATOM)
        self.bound.add(n)
        return name

    def aux(self, code: str) -> str:
        """A helper statement ``t = code``; returns the temporary's name."""
        name = self.names.temp()
        self.lines.append(f"{name} = {code}")
        return name

    def name(self, n: Node) -> str:
        """``n``'s code, bound to a temporary first unless it is a name (or a view of one, or a number)."""
        c = self.code(n)[0]
        return c if _SIMPLE.match(c) else self.bind(n, c)

    def plain(self, n: Node) -> Node:
        """``n`` without a transpose, for functions that ignore one (trace, det, sum, norm, diagonal)."""
        return n.args[0] if n.op == "T" else n

    def tcode(self, n: Node) -> str:
        """The code of nᵀ for a matrix node."""
        if n.op == "T":
            return self.code(n.args[0])[0]
        return f"{self.atom(n)}.T" if n.kind == "m" else self.code(n)[0]

    def dimcode(self, d: sympy.Expr) -> str:
        if d.is_Integer:
            return str(int(d))
        missing = sorted((s for s in d.free_symbols if s not in self.dim_names), key=str)
        if missing:
            raise ArgumentError(f"dimension {missing[0]} is not the size of any argument, so the generated code "
                                f"cannot know it; add an argument of that size")
        if isinstance(d, sympy.Symbol):
            return self.dim_names[d]
        return f"({pycode(d.xreplace({s: sympy.Symbol(self.dim_names[s]) for s in d.free_symbols}))})"

    def shape_code(self, shape: Shape) -> str:
        kind = kind_of(shape)
        if kind == "c":
            return self.dimcode(shape[0])
        if kind == "r":
            return self.dimcode(shape[1])
        return f"({self.dimcode(shape[0])}, {self.dimcode(shape[1])})"

    @staticmethod
    def as2d(code: str, kind: str) -> str:
        return {"s": f"np.full((1, 1), {code})", "c": f"{code}[:, None]", "r": f"{code}[None, :]"}.get(kind, code)

    @staticmethod
    def from2d(code: str, kind: str) -> Code:
        if kind == "s":
            return f"{code}[0, 0]", ATOM
        return (f"{code}.ravel()" if kind in "cr" else code), ATOM

    # -- leaves and views --
    def _print_arg(self, n: Node) -> Code:
        return n.params[0], ATOM

    def _print_num(self, n: Node) -> Code:
        v = n.params[0]
        return fmt_number(v), (NEG if v < 0 else ATOM)

    def _print_dim(self, n: Node) -> Code:
        return self.dimcode(n.params[0]), ATOM

    def _print_fill(self, n: Node) -> Code:
        return f"np.{'ones' if n.params[0] else 'zeros'}({self.shape_code(n.shape)})", ATOM

    def _print_eye(self, n: Node) -> Code:
        return f"np.eye({self.dimcode(n.shape[0])})", ATOM

    def _print_T(self, n: Node) -> Code:
        (a,) = n.args
        if a.kind != "m" or a.lazy:
            return self.code(a)  # a 1-D array is its own transpose
        return f"{self.atom(a)}.T", ATOM

    def _print_bcast(self, n: Node) -> Code:
        return self.code(n.args[0])

    def _print_vec(self, n: Node) -> Code:
        return self.code(n.args[0])

    def _print_full(self, n: Node) -> Code:
        (a,) = n.args
        src = self.code(a)[0] if a.lazy == "rows" else f"{self.atom(a)}[:, None]"
        return f"np.broadcast_to({src}, {self.shape_code(n.shape)})", ATOM

    # -- elementwise --
    def _inline(self, a: Node, parent: Node) -> bool:
        """Whether ``a``'s own form may be rewritten inside ``parent``'s code (a − b instead of a + -1 * b)."""
        return a not in self.bound and (a.lazy == parent.lazy or a.lazy != "cols")

    def _print_add(self, n: Node) -> Code:
        out = ""
        for i, a in enumerate(n.args):
            neg: str | None = None
            if a.op == "num" and a.params[0] < 0 and i > 0:
                neg = fmt_number(-a.params[0])
            elif a.op == "mul" and i > 0 and self._inline(a, n):
                coef = 1
                for f in a.args:
                    if f.op == "num":
                        coef *= f.params[0]
                if coef < 0:
                    neg = self.wrap(self._mul(a, flip=True), MUL)
            if neg is not None:
                out += f" - {neg}"
            else:
                s = self.wrap(self.ew(a, n), ADD + 1) if i > 0 else self.ew(a, n)[0]
                out += f" + {s}" if i else s
        return out, ADD

    def _print_mul(self, n: Node) -> Code:
        return self._mul(n)

    def _mul(self, n: Node, flip: bool = False) -> Code:
        coef: float = -1 if flip else 1
        num: list[Node] = []
        den: list[str] = []
        for a in n.args:
            if a.op == "num":
                coef *= a.params[0]
            elif a.op == "power" and a.params[0] < 0 and self._inline(a, n):
                base = self.ew(a.args[0], a)
                p = -a.params[0]
                den.append(self.wrap(base, MUL + 1) if p == 1 else f"np.sqrt({base[0]})" if p == 0.5
                           else f"{self.wrap(base, POW + 1)}**{fmt_number(p)}")
            else:
                num.append(a)
        num.sort(key=lambda a: 0 if a.kind == "s" else 1 if (a.kind != "m" or a.lazy) else 2)
        if coef == int(coef):
            coef = int(coef)
        factors = [self.ew(a, n) for a in num]
        if not factors:
            s = fmt_number(coef)
            return (s + "".join(f" / {d}" for d in den), MUL) if den else (s, NEG if coef < 0 else ATOM)
        if coef == -1:
            first = self.wrap(factors[0], NEG)
            prec = NEG if len(factors) == 1 and not den else MUL
            s = "-" + first
        else:
            first = self.wrap(factors[0], MUL + 1) if len(factors) + len(den) > 1 else factors[0][0]
            s = first if coef == 1 else f"{fmt_number(coef)} * {self.wrap(factors[0], MUL + 1)}"
            prec = factors[0][1] if coef == 1 and len(factors) == 1 and not den else MUL
        s += "".join(f" * {self.wrap(f, MUL + 1)}" for f in factors[1:]) + "".join(f" / {d}" for d in den)
        return s, prec

    def _print_power(self, n: Node) -> Code:
        base = self.ew(n.args[0], n)
        p = n.params[0]
        if p == 0.5:
            return f"np.sqrt({base[0]})", ATOM
        if p == -1:
            return f"1 / {self.wrap(base, MUL + 1)}", MUL
        if p == -0.5:
            return f"1 / np.sqrt({base[0]})", MUL
        return f"{self.wrap(base, POW + 1)}**{fmt_number(p)}", POW

    def _print_apply(self, n: Node) -> Code:
        (a,) = n.args
        template, uses, atomic, bare = fn_template(n.params[0])
        arg = self.ew(a, n)
        if uses > 1 and not _SIMPLE.match(arg[0]):
            self.name(a)
            arg = self.ew(a, n)
        return template.replace(_SLOT, arg[0] if bare else self.wrap(arg, ATOM)), (ATOM if atomic else ADD)

    # -- products --
    def _print_dot(self, n: Node) -> Code:
        left, right = n.args
        lc = self.code(left)
        lc_s = lc[0] if left.op == "dot" and left not in self.bound else self.wrap(lc, MUL + 1)
        return f"{lc_s} @ {self.wrap(self.code(right), MUL + 1)}", MUL

    def _print_outer(self, n: Node) -> Code:
        return f"np.outer({self.code(n.args[0])[0]}, {self.code(n.args[1])[0]})", ATOM

    def _print_sumaxis(self, n: Node) -> Code:
        (a,), axis = n.args, n.params[0]
        if a.op == "T" and a.args[0].kind == "m" and not a.args[0].lazy:
            a, axis = a.args[0], 1 - axis
        return f"{self.atom(a)}.sum(axis={axis})", ATOM

    def _print_sumall(self, n: Node) -> Code:
        a = self.plain(n.args[0])
        return (self.code(a) if a.kind == "s" else (f"{self.atom(a)}.sum()", ATOM))

    def _print_solve(self, n: Node) -> Code:
        a, b = n.args
        if a.kind == "s":
            return f"{self.wrap(self.code(b), MUL)} / {self.wrap(self.code(a), MUL + 1)}", MUL
        return f"np.linalg.solve({self.code(a)[0]}, {self.code(b)[0]})", ATOM

    def _print_rsolve(self, n: Node) -> Code:
        left, a = n.args
        if left.kind in "sr":
            return f"np.linalg.solve({self.tcode(a)}, {self.code(left)[0]})", ATOM
        return f"np.linalg.solve({self.tcode(a)}, {self.tcode(left)}).T", ATOM

    # -- functions of matrices --
    def _print_inv(self, n: Node) -> Code:
        (a,) = n.args
        if a.kind == "s":
            return f"1 / {self.wrap(self.code(a), MUL + 1)}", MUL
        if a.op == "T":
            return f"np.linalg.inv({self.code(a.args[0])[0]}).T", ATOM
        return f"np.linalg.inv({self.code(a)[0]})", ATOM

    def _scalar_fn(self, n: Node, fn: str, of_scalar: str) -> Code:
        a = self.plain(n.args[0])
        if a.kind == "s":
            return (of_scalar.format(self.code(a)[0]), ATOM) if of_scalar != "{}" else self.code(a)
        return fn.format(self.code(a)[0]), ATOM

    def _print_trace(self, n: Node) -> Code:
        return self._scalar_fn(n, "np.trace({})", "{}")

    def _print_det(self, n: Node) -> Code:
        return self._scalar_fn(n, "np.linalg.det({})", "{}")

    def _print_logdet(self, n: Node) -> Code:
        return self._scalar_fn(n, "np.linalg.slogdet({})[1]", "np.log({})")

    def _print_norm2(self, n: Node) -> Code:
        return self._scalar_fn(n, "np.linalg.norm({})", "np.abs({})")

    def _print_diag(self, n: Node) -> Code:
        return f"np.diag({self.code(n.args[0])[0]})", ATOM

    def _print_diagpart(self, n: Node) -> Code:
        return f"np.diagonal({self.code(self.plain(n.args[0]))[0]})", ATOM

    def _print_kron(self, n: Node) -> Code:
        a, b = n.args
        code = f"np.kron({self.as2d(self.atom(a), a.kind)}, {self.as2d(self.atom(b), b.kind)})"
        return self.from2d(code, n.kind)

    def _print_blockdot(self, n: Node) -> Code:
        g, b = n.args
        g2, b2 = self.as2d(self.name(g), g.kind), self.as2d(self.name(b), b.kind)
        code = (f"np.einsum('ipjq,pq->ij', {g2}.reshape(-1, {b2}.shape[0], {g2}.shape[1] // {b2}.shape[1], "
                f"{b2}.shape[1]), {b2})")
        return self.from2d(code, n.kind)

    def _print_blocksum(self, n: Node) -> Code:
        g, a = n.args
        g2, a2 = self.as2d(self.name(g), g.kind), self.as2d(self.name(a), a.kind)
        code = (f"np.einsum('ipjq,ij->pq', {g2}.reshape({a2}.shape[0], -1, {a2}.shape[1], "
                f"{g2}.shape[1] // {a2}.shape[1]), {a2})")
        return self.from2d(code, n.kind)

    def _print_logsumexp(self, n: Node) -> Code:
        """log Σ exp(xᵢ) = m + log Σ exp(xᵢ − m) with m = max xᵢ (no overflow)."""
        (a,) = n.args
        if a.kind == "s":
            return self.code(a)
        x = self.name(a)
        m = self.aux(f"{x}.max()")
        return f"{m} + np.log(np.exp({x} - {m}).sum())", ADD

    def _print_softmax(self, n: Node) -> Code:
        """softmax(x) = exp(x − max x) / Σ exp(x − max x)."""
        (a,) = n.args
        if a.kind == "s":
            return "1.0", ATOM
        x = self.name(a)
        e = self.aux(f"np.exp({x} - {x}.max())")
        return f"{e} / {e}.sum()", MUL


# ---- the function ----------------------------------------------------------------------------------------------------
def _array_text(shape: Shape) -> str:
    k = kind_of(shape)
    return {"s": "float", "c": f"({shape[0]},)", "r": f"({shape[1]},)"}.get(k, f"({shape[0]}, {shape[1]})")


class NumPyFunction:
    """The numpy source of ``name(*params)`` returning ``outputs`` (a tuple when ``many``)."""

    def __init__(self, outputs: Sequence[Expr], params: Sequence[Expr], name: str, many: bool) -> None:
        self.outputs, self.params, self.name, self.many = list(outputs), list(params), name, many
        self.names = Names()
        self.names.taken.add(name)
        self.pnames = parameter_names(self.params, self.names)
        self.binding, self.checks = dim_bindings(self.params)
        self.dim_names = {d: self.names.claim(d.name) for d in self.binding}
        self._check_lines: set[int] = set()
        self._arg_lines: dict[int, str] = {}
        self._source: str | None = None

    # -- the parts --
    def _header(self) -> list[tuple[str, str, str]]:
        """``(line, role, argument)``: conversion and shape checks of the arguments, then dimension bindings."""
        out: list[tuple[str, str, str]] = []
        f = f"{self.name}()"

        def check(cond: str, msg: str, values: str) -> None:
            out.append((f"if {cond}:", "", ""))
            out.append((f"    raise ValueError({msg!r} % ({values}))", "check", ""))

        where: dict[sympy.Symbol, str] = {}
        phrase = {"length": "the length", "rows": "the number of rows", "columns": "the number of columns"}
        for p in self.params:
            v, u, kind = self.pnames[p], p.name, kind_of(p.shape)
            out.append((f"{v} = np.asarray({v}, dtype=np.float64)", "convert", u))
            got = "got an array of shape %s"
            if kind == "s":
                check(f"{v}.size != 1", f"{f}: argument {u!r} must be a number, {got}", f"{v}.shape,")
                out.append((f"{v} = {v}.flat[0]", "", ""))
            elif kind in "cr":  # n×1 and 1×n arrays are accepted for a vector
                length = p.shape[0] if kind == "c" else p.shape[1]
                out.append((f"if {v}.ndim == 2 and 1 in {v}.shape:", "", ""))
                out.append((f"    {v} = {v}.ravel()", "", ""))
                check(f"{v}.ndim != 1", f"{f}: argument {u!r} must be a 1-D array of length {length}, {got}",
                      f"{v}.shape,")
            else:
                check(f"{v}.ndim != 2", f"{f}: argument {u!r} must be a 2-D array of shape "
                      f"({p.shape[0]}, {p.shape[1]}), {got}", f"{v}.shape,")
            for use in dim_uses(p):
                axis = f"{v}.shape[{use.axis}]"
                d = use.dim
                if isinstance(d, sympy.Symbol) and self.binding.get(d) == use:
                    out.append((f"{self.dim_names[d]} = {axis}", "", ""))
                    where[d] = f"{phrase[use.what]} of argument {u!r}"
                elif d.is_Integer:
                    check(f"{axis} != {int(d)}", f"{f}: argument {u!r} has shape %s, but {phrase[use.what]} must "
                          f"be {int(d)}", f"{v}.shape,")
        for use in self.checks:
            d, p = use.dim, use.param
            if d.is_Integer or not d.free_symbols <= set(self.dim_names):
                continue
            v, u = self.pnames[p], p.name
            exp = NumPyPrinter(self.names, self.dim_names).dimcode(d)
            src = f", {where[d]}" if d in where else ""
            check(f"{v}.shape[{use.axis}] != {exp}", f"{f}: argument {u!r} has shape %s, but {phrase[use.what]} "
                  f"must be {d} = %d{src}", f"{v}.shape, {exp}")
        return out

    def _docstring(self) -> list[str]:
        """The function's docstring: its arguments' and results' natural shapes, and the formulas."""
        lines = ["Generated by matderiv.", ""]
        lines.append("Arguments: " + (", ".join(f"{p.name} {_array_text(p.shape)}" for p in self.params) or "none"))
        lines.append("Returns:" if self.many and len(self.outputs) > 1 else "Returns")
        for e in self.outputs:
            t = str(e)
            lines.append(f"    {t if len(t) <= 120 else t[:117] + '...'}  {_array_text(e.shape)}")
        if any(ch in line for line in lines for ch in "\\\"'"):
            lines = lines[:3]
        return ['"""' + lines[0]] + lines[1:] + ['"""']

    def _body(self) -> list[str]:
        canon = Canonical()
        low = Lowering(self.pnames)
        roots = [low.output(low.lower(canon(e))) for e in self.outputs]
        order, _ = use_counts(roots)
        # a view (transpose, broadcast) used k times uses its argument k times
        eff: dict[Node, int] = {r: 0 for r in order}
        for r in roots:
            eff[r] += 1
        for n in reversed(order):
            w = eff[n] if n.op in _TRIVIAL else 1
            for a in n.args:
                eff[a] += w
        pr = NumPyPrinter(self.names, self.dim_names)
        for n in order:
            c = pr.emit(n)
            pr.codes[n] = c
            if n.op not in _TRIVIAL and (eff[n] > 1 or len(c[0]) > _LONG):
                pr.bind(n, c[0])
        results = []
        for r in roots:
            c = pr.code(r)
            if r.kind == "s":
                s = f"float({c[0]})"
            elif (r.args[0] if r.op == "T" else r).op in ("full", "diagpart"):  # read-only views
                s = f"{pr.wrap(c, ATOM)}.copy()"
            else:
                s = c[0]
            if self.many and len(self.outputs) > 1 and not _SIMPLE.match(s):
                s = pr.aux(s)
            results.append(s)
        ret = ", ".join(results) + ("," if self.many and len(results) == 1 else "")
        return pr.lines + [f"return {ret}"]

    def source(self) -> str:
        if self._source is None:
            header = self._header()
            body = self._body()
            sig = ", ".join(self.pnames[p] for p in self.params)
            lines = ["import numpy as np", "", "", f"def {self.name}({sig}):"]
            lines += [("    " + s).rstrip() for s in self._docstring()]
            for text, role, arg in header:
                lines.append("    " + text)
                if role == "check":
                    self._check_lines.add(len(lines))
                elif role == "convert":
                    self._arg_lines[len(lines)] = arg
            lines += ["    " + s for s in body]
            self._source = "\n".join(lines) + "\n"
        return self._source

    def is_check_line(self, lineno: int) -> bool:
        """Whether line ``lineno`` of the source raises for an argument of the wrong shape."""
        return lineno in self._check_lines

    def argument_at_line(self, lineno: int) -> str:
        """The argument converted on line ``lineno`` (or '')."""
        return self._arg_lines.get(lineno, "")


# ---- the public functions --------------------------------------------------------------------------------------------
def numpy_code(exprs: object, args: object, name: str = "f") -> str:
    """The source of a standalone function ``name(*args)`` evaluating ``exprs`` with numpy.

    Its only import is ``import numpy as np``. Arrays come in and go out in numpy's natural shapes: an n×1
    vector or a 1×m row is a 1-D array, a 1×1 scalar a Python float, a matrix a 2-D array; inputs are converted
    to float64 and their shapes checked against each other (a mismatch raises ``ValueError`` naming the
    argument). Shared values are computed once, diag(v) products become broadcasting, inverses times something
    become ``np.linalg.solve``, and chains of products are multiplied in a cheap order. A log det is evaluated
    as ``np.linalg.slogdet(X)[1]``, which is log |det X|: it is log det X only where det X > 0.
    """
    outputs, many = outputs_of(exprs)
    params = resolve_args(outputs, args)
    return NumPyFunction(outputs, params, function_name(name), many).source()


def lambdify(args: object, exprs: object) -> Callable[..., Any]:
    """A compiled numpy function of ``args`` evaluating ``exprs`` (an expression, or a list giving a tuple).

    ``fn(*arrays)`` takes the arrays in the order of ``args``; ``fn.source`` is the generated source. Inputs
    whose shapes do not fit raise :class:`~matderiv.errors.ShapeError`, a missing or extra value
    :class:`~matderiv.errors.ArgumentError`.
    """
    outputs, many = outputs_of(exprs)
    params = resolve_args(outputs, args)
    gen = NumPyFunction(outputs, params, "f", many)
    source = gen.source()
    namespace: dict[str, Any] = {"__name__": "matderiv_generated"}
    exec(compile(source, "<matderiv.lambdify>", "exec"), namespace)  # noqa: S102 - our generated code
    inner = namespace["f"]
    code = inner.__code__
    arg_names = [p.name for p in params]

    def fn(*values: object) -> Any:
        if len(values) != len(arg_names):
            if len(values) < len(arg_names):
                missing = ", ".join(repr(n) for n in arg_names[len(values):])
                raise ArgumentError(f"missing the value of {missing}: the function takes "
                                    f"({', '.join(arg_names)}), got {len(values)} value(s)")
            raise ArgumentError(f"too many values: the function takes ({', '.join(arg_names)}), "
                                f"got {len(values)}")
        try:
            return inner(*values)
        except (ValueError, TypeError) as exc:
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is None or tb.tb_frame.f_code is not code:
                raise  # raised inside numpy while computing, not by the generated argument checks
            if gen.is_check_line(tb.tb_lineno):
                raise ShapeError(str(exc)) from None
            which = gen.argument_at_line(tb.tb_lineno)
            if not which:
                raise
            raise ArgumentError(f"the value of {which!r} must be a number or an array of numbers: {exc}") from None

    fn.__name__ = fn.__qualname__ = "f"
    fn.__doc__ = ("A numpy function generated by matderiv.lambdify; called with the values of "
                  f"({', '.join(arg_names)}). Its source:\n\n{source}")
    fn.source = source  # type: ignore[attr-defined]
    fn.args = tuple(params)  # type: ignore[attr-defined]
    fn.exprs = tuple(outputs) if many else outputs[0]  # type: ignore[attr-defined]
    fn.__wrapped__ = inner  # type: ignore[attr-defined]  # inspect.signature shows the parameters
    return fn


__all__ = ["numpy_code", "lambdify", "NumPyFunction", "NumPyPrinter", "Lowering", "Node", "kind_of", "fn_template"]
