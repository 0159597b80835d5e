"""Lowering: canonical IR → the nodes a numpy-like array library computes well (shared by the array backends).

:class:`Lowering` turns canonical expressions (:class:`matderiv.codegen.common.Canonical`: one value for V and
Vᵀ) into :class:`Node` s whose ops are an array library's own: ``dot`` (``@`` on 1-D and 2-D arrays),
``outer``, ``sumaxis``, ``sumall``, ``solve`` (A⁻¹B) and ``rsolve`` (BA⁻¹) — with ``colstack``/``colpart`` (right-hand
sides side by side for one solve, and each one's columns of it) or ``lu``/``lusolve`` where solves share a matrix
(:meth:`Lowering.reuse`) —, elementwise ops with broadcasting,
views (``T``, ``bcast``, ``vec``, ``full``) and leaves (``arg``, ``num``, ``dim``, ``fill``, ``eye``). Matrix
chains are ordered by the classic dynamic programme; diag(v) factors become broadcast products, never an n×n
matrix; ones factors become sums or broadcasts; inverses followed or preceded by a factor become solves. Every
other op is lowered generically: a node of the same name over its arguments as real arrays, with the same
params, which the printer emits from the op's ``numpy=`` field (or its own ``_print_<op>``).

Each node has a *kind* — ``s`` scalar (1×1), ``c`` column (n×1) and ``r`` row (1×m), both held as 1-D arrays,
``m`` matrix (2-D) — and may be *lazy*: a matrix 𝟏rᵀ (``rows``) or c𝟏ᵀ (``cols``) held as its 1-D vector, which
broadcasting handles inside elementwise operations and which is materialised only where a real matrix is needed.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import sympy

from ..core.expr import ONE, OPS, Expr, iter_nodes

Shape = tuple[sympy.Expr, sympy.Expr]
_FLIP = {"rows": "cols", "cols": "rows", "": ""}
_BIG = 1000  # the size assumed for a symbolic dimension when ordering a chain of products


def _symmetric_op(op: str) -> bool:
    """Whether the IR op's values equal their transposes (its spec says so: I, diag v)."""
    return op in OPS and OPS[op].transpose == "symmetric"


def symmetric_node(n: Node) -> bool:
    """Whether ``n`` equals its transpose by construction: a scalar, a symmetric op (I, diag v), an argument declared
    symmetric. For such an S the code uses Sᵀ = S and S⁻ᵀ = S⁻¹: one matrix for every solve with it."""
    return n.kind == "s" or _symmetric_op(n.op) or (n.op == "arg" and n.params[1])


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
#: The IR ops :class:`Lowering` lowers itself (into the node kinds above); every other op becomes a node of its own.
SPECIAL = frozenset({"symbol", "const", "ones", "zeros", "eye", "transpose", "add", "mul", "power", "apply",
                     "matmul", "sum"})

#: The lowering's own node kinds that are not IR ops (an op may not be called one of these).
INTERNAL = frozenset({"arg", "num", "dim", "fill", "T", "bcast", "vec", "full", "dot", "outer", "sumaxis", "sumall",
                      "rsolve", "lu", "lusolve", "colstack", "colpart"})


class Lowering:
    """Canonical IR → array-library nodes (see the module docstring)."""

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
        if symmetric_node(n):
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
        if op not in OPS or op in INTERNAL:
            raise NotImplementedError(f"the op '{op}' cannot be lowered: "
                                      + ("its name is a node kind of the lowering" if op in OPS else "no such op"))
        return self.make(op, tuple(self.full(x) for x in a), e.params, e.shape)  # the op's own emitter prints it

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

        for k, other, side in ((ln, right, "left"), (rn, left, "right")):  # K M = M[perm], M K = M[:, perm⁻¹]
            if k.op == "T" and k.args[0].op == "commutation" and not k.args[0].args:  # K_{m,n}ᵀ = K_{n,m}
                k = self.make("commutation", (), k.args[0].params[::-1], k.shape)
            if k.op == "commutation" and not k.args:  # a gather, never the mn×mn matrix (ops/vecform.py prints it)
                return dense(self.make("commutation", (self.realize(other),), (*k.params, side), shape))
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
            if symmetric_node(rn):  # X S⁻¹ = (S⁻¹ Xᵀ)ᵀ: the same solve as S⁻¹ Xᵀ elsewhere
                return dense(self.t(self.make("solve", (rn, self.t(self.realize(left))), (), (shape[1], shape[0]))))
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


    # -- work shared between solves --
    def reuse(self, roots: Sequence[Node], factorise: bool = False) -> list[Node]:
        """``roots`` with the work of inverses and solves shared:

        * where A⁻¹ is computed anyway, A⁻¹B and BA⁻¹ are products with it (``inv @ B``: n² per vector, not a
          factorisation each): the GP gradient ½(K⁻ᵀ − K⁻ᵀyyᵀK⁻ᵀ) computes one inverse and two products;
        * by default (numpy alone), solves with one matrix in one orientation whose right-hand sides do not depend
          on each other's results are one solve with the right-hand sides side by side,
          A⁻¹[b C] = [A⁻¹b A⁻¹C] (``colstack``, then ``colpart`` slices): one factorisation of A for all of
          them (:meth:`_batch`); solves with A and with Aᵀ are two such solves, one per orientation;
        * with ``factorise``, a matrix that two or more solves use (A⁻¹B, A⁻ᵀC, BA⁻¹, in any orientation, one
          depending on another or not) is LU-factorised once (``lu``) and each solve is a pair of triangular
          solves with the factors (``lusolve``, ``trans`` 1 for Aᵀ).
        """
        order = iter_nodes(roots)
        invs: dict[Node, Node] = {}  # A → a node computing A⁻¹
        for n in order:
            if n.op == "inv" and n.kind == "m":
                a = n.args[0]
                invs.setdefault(a, n)
                invs.setdefault(self.t(a), self.t(n))  # (Aᵀ)⁻¹ = (A⁻¹)ᵀ
        memo: dict[Node, Node] = {}

        def rebuilt(n: Node) -> Node:
            args = tuple(memo[a] for a in n.args)
            return n if args == n.args else self.make(n.op, args, n.params, n.shape, n.lazy)

        for n in order:
            new = rebuilt(n)
            if new.op == "solve" and new.args[0].kind == "m" and new.args[0] in invs:
                new = self.make("dot", (memo.get(invs[new.args[0]], invs[new.args[0]]), new.args[1]), (), n.shape)
            elif new.op == "rsolve" and new.args[1] in invs:
                new = self.make("dot", (new.args[0], memo.get(invs[new.args[1]], invs[new.args[1]])), (), n.shape)
            memo[n] = new
        out = [memo[r] for r in roots]
        return self._factorise(out) if factorise else self._batch(out)

    def _matrix_of(self, n: Node) -> tuple[Node, int] | None:
        """(M, trans) for a solve node: it solves with M (trans 0) or Mᵀ (trans 1); None for a 1×1 matrix."""
        a, trans = (n.args[0], 0) if n.op == "solve" else (n.args[1], 1)
        if a.kind != "m":
            return None
        if a.op == "T":
            a, trans = a.args[0], 1 - trans
        if symmetric_node(a):  # Mᵀ = M
            trans = 0
        return a, trans

    def _factorise(self, roots: list[Node]) -> list[Node]:
        """Solves sharing a matrix use one LU factorisation of it (see :meth:`reuse`)."""
        order = iter_nodes(roots)
        count: dict[Node, int] = {}
        for n in order:
            if n.op in ("solve", "rsolve"):
                m = self._matrix_of(n)
                if m is not None:
                    count[m[0]] = count.get(m[0], 0) + 1
        if not any(c > 1 for c in count.values()):
            return roots
        memo: dict[Node, Node] = {}
        for n in order:
            args = tuple(memo[a] for a in n.args)
            new = n if args == n.args else self.make(n.op, args, n.params, n.shape, n.lazy)
            m = self._matrix_of(n) if n.op in ("solve", "rsolve") else None
            if m is not None and count[m[0]] > 1:
                mat, trans = memo[m[0]], m[1]
                lu = self.make("lu", (mat,), (), mat.shape)
                if n.op == "solve":
                    new = self.make("lusolve", (lu, args[1]), (trans,), n.shape)
                else:  # L A⁻¹ = (A⁻ᵀ Lᵀ)ᵀ: a solve with Aᵀ
                    rhs = self.t(args[0])
                    new = self.t(self.make("lusolve", (lu, rhs), (trans,), rhs.shape))
            memo[n] = new
        return [memo[r] for r in roots]


    # -- numpy alone: one solve for several right-hand sides --
    def _rhs(self, n: Node) -> Node:
        """The right-hand side a solve node solves for: B of A⁻¹B, Lᵀ of LA⁻¹ = (A⁻ᵀLᵀ)ᵀ."""
        return n.args[1] if n.op == "solve" else self.t(n.args[0])

    def _groups(self, order: list[Node]) -> list[list[Node]]:
        """The solve nodes of ``order`` by (matrix, orientation), in topological order; right-hand sides held
        lazily (𝟏rᵀ, c𝟏ᵀ) and 1×1 matrices are left alone."""
        groups: dict[tuple[Node, int], list[Node]] = {}
        for n in order:
            if n.op in ("solve", "rsolve"):
                m = self._matrix_of(n)
                rhs = self._rhs(n) if m is not None else None
                if m is not None and rhs is not None and not rhs.lazy and rhs.kind in "cm":
                    groups.setdefault(m, []).append(n)
        return [g for g in groups.values() if len(g) > 1]

    def _batch(self, roots: list[Node]) -> list[Node]:
        """Solves with one matrix M in one orientation (Mx = b, or Mᵀx = b for BM⁻¹ and M⁻ᵀb) become one
        ``solve(M, colstack(b₁, …, b_k))`` split into ``colpart`` s: M is factorised once, as by
        ``scipy.linalg.lu_factor``, but with numpy alone. A solve whose right-hand side depends on another's
        result (M⁻¹(M⁻¹b)) cannot join it: it stays a solve of its own. Groups are batched one at a time, each on
        the graph the previous batching left (a batch depends on all of its right-hand sides, so independence is
        judged again after each)."""
        while True:
            order = iter_nodes(roots)
            groups = self._groups(order)
            if not groups:
                return roots
            index = {s: i for i, s in enumerate(s for g in groups for s in g)}
            below: dict[Node, int] = {}  # node → the solves of the groups it depends on (bits of ``index``)
            for n in order:
                mask = 0
                for a in n.args:
                    mask |= below[a]
                i = index.get(n)
                below[n] = mask | (0 if i is None else 1 << i)
            for group in groups:
                batches: list[list[Node]] = []
                for s in group:  # topological order: an earlier one never depends on a later one
                    deps = below[s] & ~(1 << index[s])
                    for b in batches:
                        if not any(deps >> index[o] & 1 for o in b):
                            b.append(s)
                            break
                    else:
                        batches.append([s])
                batches = [b for b in batches if len(b) > 1]
                if batches:
                    roots = self._merge(roots, batches)
                    break
            else:
                return roots

    def _merge(self, roots: list[Node], batches: list[list[Node]]) -> list[Node]:
        """``roots`` with each batch of solves (one matrix, one orientation, independent right-hand sides) one
        solve of the stacked right-hand sides, each member a slice of its result."""
        batch_of = {s: b for b in batches for s in b}

        def children(n: Node) -> tuple[Node, ...]:  # a member needs every member's inputs: they are solved together
            b = batch_of.get(n)
            return n.args if b is None else tuple(a for s in b for a in s.args)

        order: list[Node] = []
        seen: set[Node] = set()
        for root in roots:  # children before parents in the graph with those extra edges
            stack: list[tuple[Node, bool]] = [(root, False)]
            while stack:
                node, done = stack.pop()
                if done:
                    order.append(node)
                elif node not in seen:
                    seen.add(node)
                    stack.append((node, True))
                    stack.extend((a, False) for a in reversed(children(node)) if a not in seen)
        memo: dict[Node, Node] = {}
        parts: dict[Node, Node] = {}
        for n in order:
            b = batch_of.get(n)
            if b is None:
                args = tuple(memo[a] for a in n.args)
                memo[n] = n if args == n.args else self.make(n.op, args, n.params, n.shape, n.lazy)
                continue
            if n not in parts:
                parts.update(self._solve_together(b, memo))
            memo[n] = parts[n]
        return [memo[r] for r in roots]

    def _solve_together(self, batch: list[Node], memo: dict[Node, Node]) -> dict[Node, Node]:
        """Each member of ``batch`` → its slice of ``solve(M, colstack(rhs…))`` (rebuilt inputs from ``memo``)."""
        first = self._matrix_of(batch[0])
        assert first is not None
        mat, trans = memo[first[0]], first[1]
        rhss: list[Node] = []
        for s in batch:
            args = tuple(memo[a] for a in s.args)
            rhss.append(args[1] if s.op == "solve" else self.t(args[0]))
        distinct = list(dict.fromkeys(rhss))  # one column block per right-hand side (cᵀA⁻ᵀ = (A⁻¹c)ᵀ: c once)
        oriented = self.t(mat) if trans else mat
        out: dict[Node, Node] = {}
        if len(distinct) == 1:  # the same system reached twice: one solve, no stacking
            solved = self.make("solve", (oriented, distinct[0]), (), distinct[0].shape)
            for s in batch:
                out[s] = solved if s.op == "solve" else self.t(solved)
            return out
        width: sympy.Expr = sympy.Integer(0)
        spans: dict[Node, tuple[sympy.Expr, sympy.Expr]] = {}
        for r in distinct:
            w = ONE if r.kind == "c" else r.shape[1]
            spans[r] = (width, w)
            width = width + w
        rows = mat.shape[0]
        stacked = self.make("colstack", tuple(distinct), (), (rows, width))
        solved = self.make("solve", (oriented, stacked), (), (rows, width))
        for s, r in zip(batch, rhss):
            start, w = spans[r]
            part = self.make("colpart", (solved,), (start, w, r.kind == "c"), r.shape)
            out[s] = part if s.op == "solve" else self.t(part)  # L A⁻¹ = (A⁻ᵀ Lᵀ)ᵀ
        return out



__all__ = ["Lowering", "Node", "Item", "kind_of", "symmetric_node", "Shape", "SPECIAL", "INTERNAL"]
