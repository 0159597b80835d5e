"""Type and dimension inference for the text language: union-find over dimension variables (the literal 1 stands
for a vector's columns and a scalar's size), then building the expression with :mod:`matderiv.ops`.

A function's shape is its op's own rule (:data:`matderiv.core.spec.FUNCTIONS`), run over the union-find through
:class:`_Algebra`; the language adds only its operators' semantics (a 1×1 operand scales)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Callable, Iterator, Union

import sympy

from .. import ops
from ..core.errors import MatderivError, ShapeError
from ..core.expr import OPS, ONE, Expr, dim_symbol
from ..core.functions import Fn
from ..core.spec import FUNCTIONS, LangFunction, ShapeAlgebra, ShapeFailure
from ..ops.base import same
from .syntax import (_AUTO_DIMS, dim_text, _MAX_MATRIX_POWER, TypeSpec, _check_symbol_name, _Decl, _Node, _Source,
                     default_kind)


# ---- dimensions: terms and unification ----------------------------------------------------------------------------
class _Var:
    """A dimension variable (never equal to 1)."""

    __slots__ = ("id",)

    def __init__(self, i: int) -> None:
        self.id = i


@dataclass(frozen=True)
class _Prod:
    """The product of two dimension terms, at least one still unknown (the shape of a Kronecker product)."""

    a: Any
    b: Any


Term = Union[_Var, _Prod, sympy.Expr]
Shape2 = tuple[Term, Term]


class _Conflict(Exception):
    pass


class _Dims:
    """Union-find over dimension terms, with a trail so that a failed unification leaves no trace."""

    def __init__(self) -> None:
        self.parent: dict[_Var, Term] = {}
        self.vars: list[_Var] = []

    def new(self) -> _Var:
        v = _Var(len(self.vars))
        self.vars.append(v)
        return v

    def find(self, t: Term) -> Term:
        while isinstance(t, _Var) and t in self.parent:
            t = self.parent[t]
        return t

    def resolve(self, t: Term) -> Term:
        t = self.find(t)
        if isinstance(t, _Prod):
            return self.prod(self.resolve(t.a), self.resolve(t.b))
        return t

    @staticmethod
    def prod(a: Term, b: Term) -> Term:
        if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
            return a * b
        if isinstance(a, sympy.Expr) and a == ONE:
            return b
        if isinstance(b, sympy.Expr) and b == ONE:
            return a
        return _Prod(a, b)

    def is_one(self, t: Term) -> bool:
        t = self.resolve(t)
        return isinstance(t, sympy.Expr) and t == ONE

    def occurs(self, v: _Var, t: Term) -> bool:
        t = self.find(t)
        if t is v:
            return True
        return isinstance(t, _Prod) and (self.occurs(v, t.a) or self.occurs(v, t.b))

    def unify_all(self, pairs: list[tuple[Term, Term]]) -> bool:
        """Unify each pair; on a conflict undo everything and return False."""
        trail: list[_Var] = []
        try:
            for a, b in pairs:
                self._unify(a, b, trail)
            return True
        except _Conflict:
            for v in trail:
                del self.parent[v]
            return False

    def _bind(self, v: _Var, t: Term, trail: list[_Var]) -> None:
        if (isinstance(t, sympy.Expr) and t == ONE) or self.occurs(v, t):
            raise _Conflict
        self.parent[v] = t
        trail.append(v)

    def _unify(self, a: Term, b: Term, trail: list[_Var]) -> None:
        a, b = self.resolve(a), self.resolve(b)
        if a is b:
            return
        if isinstance(a, _Var):
            return self._bind(a, b, trail)
        if isinstance(b, _Var):
            return self._bind(b, a, trail)
        if isinstance(a, _Prod) and isinstance(b, _Prod):
            self._unify(a.a, b.a, trail)
            self._unify(a.b, b.b, trail)
            return
        if isinstance(b, _Prod):
            a, b = b, a
        if isinstance(a, _Prod):  # a product with an unknown factor against a known dimension
            for known, unknown in ((a.a, a.b), (a.b, a.a)):
                if isinstance(known, sympy.Expr):
                    q = sympy.cancel(b / known)
                    if sympy.fraction(q)[1] != 1 or (q.is_number and not (q.is_Integer and q > 0)):
                        raise _Conflict
                    self._unify(unknown, q, trail)
                    return
            raise _Conflict
        if a != b and sympy.expand(a - b) != 0:
            raise _Conflict


class _Algebra(ShapeAlgebra):
    """The dimension operations of the ops' shape rules over the union-find: ``equal`` unifies, ``show`` names a
    dimension as the error messages do (provisionally), so inference reads each op's one shape rule."""

    def __init__(self, checker: _Checker) -> None:
        self.checker = checker
        self.dims = checker.dims

    def equal(self, a: Any, b: Any) -> bool:
        return self.dims.unify_all([(a, b)])

    def is_one(self, a: Any) -> bool:
        return self.dims.is_one(a)

    def prod(self, a: Any, b: Any) -> Any:
        return self.dims.prod(self.dims.resolve(a), self.dims.resolve(b))

    def quot(self, whole: Any, part: Any) -> Any | None:
        """whole / part: a Kronecker factor when ``whole`` is a product with ``part``, else the quotient of known
        dimensions (None when it is not a whole number of blocks)."""
        w, p = self.dims.resolve(whole), self.dims.resolve(part)
        if isinstance(w, _Prod) and self.dims.unify_all([(w.b, p)]):
            return w.a
        if isinstance(p, sympy.Expr) and p == ONE:
            return w
        if isinstance(w, sympy.Expr) and isinstance(p, sympy.Expr):
            return super().quot(w, p)
        self.fail("cannot infer the shape of {op}(...): declare the dimensions of its arguments")

    def show(self, a: Any) -> str:
        return dim_text(self.checker.final(a, self.checker.names()))


# ---- kinds: declared, defaulted by the name, or inferred from use ----------------------------------------------------
#: The naming rule behind each default kind, and the kind a declaration would most likely change it to.
_DEFAULT_RULE = {"scalar": "Greek names", "vector": "lower-case names", "matrix": "upper-case names"}
_OTHER_KIND = {"scalar": "vector", "vector": "scalar", "matrix": "vector"}
_MAX_REPAIR = 8  # at most this many Greek names are tried as vectors when the shapes conflict


@dataclass(frozen=True)
class Kind:
    """How a symbol's kind was decided: ``declared`` (a where clause or keyword), ``default`` (``why`` names the
    naming rule: "Greek names") or ``inferred`` (``why`` says from which use: "transposed in `alpha'`")."""

    kind: str     # scalar, vector, matrix or symmetric
    source: str   # declared, default or inferred
    why: str = ""

    def note(self, name: str) -> str:
        """What the command's shapes line says about the name ("" for a kind the name's case gives)."""
        if self.source == "inferred":
            return f"a {self.kind}: {self.why}"
        if self.source == "default" and self.kind == "scalar":
            return f"scalar, the default for Greek names; write `where {name}: vector` to change it"
        return "symmetric" if self.kind == "symmetric" else ""


def defaults_note(kinds: dict[str, Kind], names: list[str]) -> str:
    """`` — kinds not declared: mu scalar (Greek names), x vector (lower-case names); to change one, declare it:
    `where mu: vector``` for the defaulted (and inferred) ones among ``names`` ("" when there are none)."""
    shown = [n for n in dict.fromkeys(names) if n in kinds and kinds[n].source != "declared"]
    if not shown:
        return ""
    parts = ", ".join(f"{n} {kinds[n].kind} (" + (_DEFAULT_RULE[kinds[n].kind] if kinds[n].source == "default"
                                                   else f"inferred: {kinds[n].why}") + ")" for n in shown)
    greek = next((n for n in shown if kinds[n].source == "default" and kinds[n].kind == "scalar"), None)
    how = f"`where {greek}: vector`" if greek else "`where NAME: scalar`, `vector` or `matrix`"
    return f" — kinds not declared: {parts}; to change one, declare it: {how}"


class _Retry(Exception):
    """A use shows that the Greek name ``name``, a scalar by default, is a vector: infer again with that kind."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name)
        self.name, self.why = name, why


def infer(src: _Source, decls: dict[str, _Decl], fns: dict[str, Fn], root: _Node) -> _Checker:
    """The checker that inferred every node of ``root``, Greek names' kinds inferred from use where it is
    unambiguous (docs/language.md, "Kinds inferred from use"):

    1. a Greek name transposed (``alpha'``), or a row times it (``x'*theta``; not ``x'*lambda*y``, λxᵀy), is a
       vector;
    2. a Greek name added to or subtracted from a vector (possibly scaled by a number or negated) is a vector where
       that sum is used as a vector: normed (``norm2(x - mu)``), transposed (``(x - mu)'``) or a factor of a
       product (``A*(x - mu)``); elsewhere (``sum(log(x + epsilon))``, ``x - mu``) it is the scalar offset;
    3. when the shapes conflict and exactly one smallest set of Greek names (one name, else two) makes them fit as
       vectors, those names are vectors (``norm2(y - X*beta)^2``); otherwise the conflict is the error, naming the
       names whose kinds were defaulted.
    """
    inferred: dict[str, str] = {}
    checker, error = _attempt(src, decls, fns, root, inferred)
    if error is None:
        return checker
    greek = [n for n in dict.fromkeys(x.value for x in _postorder(root) if x.kind == "name")
             if n not in decls and n not in fns and n not in inferred and default_kind(n) == "scalar"]
    if 0 < len(greek) <= _MAX_REPAIR:
        span = error.span or ""
        for size in (1, 2):
            fits = []
            for names in combinations(greek, size):
                why = (f"as a scalar, `{span}` does not fit" if size == 1 else
                       f"as scalars, {names[0]} and {names[1]} do not fit (`{span}`)")
                trial, err = _attempt(src, decls, fns, root, {**inferred, **{n: why for n in names}})
                if err is None:
                    fits.append(trial)
            if len(fits) == 1:
                return fits[0]
            if fits:
                break
    raise error


def _attempt(src: _Source, decls: dict[str, _Decl], fns: dict[str, Fn], root: _Node,
             inferred: dict[str, str]) -> tuple[_Checker, ShapeError | None]:
    """Inference with the Greek names of ``inferred`` as vectors (and those rules 1 and 2 add to it): the checker, and
    the shape error that stopped it, if any."""
    while True:
        checker = _Checker(src, decls, fns, inferred)
        try:
            checker.infer(root)
            return checker, None
        except _Retry as r:
            inferred[r.name] = r.why
        except ShapeError as exc:
            return checker, exc


# ---- inference and building -----------------------------------------------------------------------------------------
def _postorder(root: _Node) -> list[_Node]:
    out: list[_Node] = []
    stack: list[tuple[_Node, bool]] = [(root, False)]
    while stack:
        n, done = stack.pop()
        if done:
            out.append(n)
            continue
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(n.args))
    return out


class _Checker:
    """Infers every node's shape (as dimension terms) and how to build it, then builds the expression."""

    def __init__(self, src: _Source, decls: dict[str, _Decl], fns: dict[str, Fn],
                 inferred: dict[str, str] | None = None) -> None:
        self.src = src
        self.decls = decls
        self.fns = fns
        self.inferred = inferred or {}   # Greek names that use showed to be vectors, with the use
        self.kinds: dict[str, Kind] = {}
        self.dims = _Dims()
        self.algebra = _Algebra(self)
        self.shape: dict[_Node, Shape2] = {}
        self.how: dict[_Node, Any] = {}
        self.parent: dict[_Node, _Node] = {}
        self.symbols: dict[str, tuple[Term, Term, bool]] = {}
        self.taken: set[str] = set()
        for d in decls.values():
            for x in (d.spec.rows, d.spec.cols):
                if x is not None:
                    self.taken.update(s.name for s in x.free_symbols)

    # -- naming (also used, provisionally, in error messages) --------------------------------------------------------
    def names(self) -> dict[_Var, sympy.Symbol]:
        taken = self.taken | set(self.symbols)
        out: dict[_Var, sympy.Symbol] = {}

        def candidates() -> Iterator[str]:
            yield from _AUTO_DIMS
            i = 1
            while True:
                yield f"d{i}"
                i += 1
        gen = (c for c in candidates() if c not in taken)
        for v in self.dims.vars:
            r = self.dims.find(v)
            if isinstance(r, _Var) and r not in out:
                out[r] = dim_symbol(next(gen))
        return out

    def final(self, t: Term, names: dict[_Var, sympy.Symbol]) -> sympy.Expr:
        t = self.dims.find(t)
        if isinstance(t, _Var):
            return names[t]
        if isinstance(t, _Prod):
            return self.final(t.a, names) * self.final(t.b, names)
        return t

    def final_shape(self, n: _Node) -> tuple[sympy.Expr, sympy.Expr]:
        """The inferred shape of ``n`` in the dimensions' final (or, before inference ends, provisional) names."""
        names = self.names()
        r, c = (self.final(t, names) for t in self.shape[n])
        return r, c

    def show(self, n: _Node) -> str:
        r, c = self.final_shape(n)
        return f"'{self.src.text[n.start:n.end]}' ({dim_text(r)}×{dim_text(c)})"

    def fail(self, message: str, n: _Node, kinds: bool = True) -> ShapeError:
        """A located ShapeError at ``n``; when a kind may be the cause (``kinds``: the operands' shapes clash), it
        names the names in ``n`` whose kinds were not declared."""
        names = [x.value for x in _postorder(n) if x.kind == "name"] if kinds else []
        exc = self.src.located(ShapeError, message + defaults_note(self.kinds, names), n.pos)
        exc.span = self.src.text[n.start:n.end]
        return exc

    def defaulted_scalar(self, name: str) -> bool:
        k = self.kinds.get(name)
        return k is not None and k.source == "default" and k.kind == "scalar"

    def greek_operand(self, n: _Node) -> str | None:
        """The Greek name, a scalar by default, that ``n`` is (negated or scaled by a number), or None."""
        n, _ = self.unscaled(n)
        return n.value if n.kind == "name" and self.defaulted_scalar(n.value) else None

    @staticmethod
    def unscaled(n: _Node, sign: int = 1) -> tuple[_Node, int]:
        """``n`` without negation and scaling by a number, and the sign the negations give."""
        while True:
            if n.kind == "neg":
                n, sign = n.args[0], -sign
            elif n.kind == "bin" and n.value in ("*", "/") and n.args[1].kind == "num":
                n = n.args[0]
            elif n.kind == "bin" and n.value == "*" and n.args[0].kind == "num":
                n = n.args[1]
            else:
                return n, sign

    def terms(self, n: _Node) -> list[tuple[_Node, int]]:
        """The terms of the sum ``n`` (through nested sums, negation and scaling by numbers), with their signs."""
        out, todo = [], [(n, 1)]
        while todo:  # a stack, not recursion: a sum of many terms is a deep tree
            m, sign = self.unscaled(*todo.pop())
            if m.kind == "bin" and m.value in ("+", "-"):
                todo += [(m.args[1], -sign if m.value == "-" else sign), (m.args[0], sign)]
            else:
                out.append((m, sign))
        return out

    def row_times_greek(self, n: _Node) -> None:
        """At the product ``n``: a row times a Greek name, a scalar by default (``x'*theta``, ``x'*A*theta``), is a
        product with a vector, unless that product is multiplied on by a vector or a matrix (``x'*lambda*y`` is
        λxᵀy). So a left factor of a product is decided at the product, once its right factor is known (a scalar
        there, ``x'*theta*2``, leaves the row times the name)."""
        up = self.parent.get(n)
        if up is not None and up.kind == "bin" and up.value in ("*", "@") and up.args[0] is n:
            return  # decided at `up`
        chain, m = [], n  # the products by scalars that end at n: x'*theta*2 is [(x'*theta)*2, x'*theta]
        while m.kind == "bin" and m.value in ("*", "@") and self.scalar(m.args[1]):
            chain.append(m)
            m = m.args[0]
        for p in reversed(chain):  # the first product read decides: x'*theta*lambda makes theta the vector
            a, b = p.args
            greek = self.greek_operand(b)
            if p.value == "*" and greek is not None and not self.scalar(a) and self.dims.is_one(self.shape[a][0]):
                raise _Retry(greek, f"a row times it in `{self.src.text[p.start:p.end]}`")

    def vector_use(self, operand: _Node, use: str, at: _Node) -> None:
        """``operand`` is used as a vector (the ``use``: "the transpose", "the norm", "the product" ``at``): a Greek
        name, a scalar by default, that it adds to or subtracts from a vector is a vector (docs/language.md, "A sum
        used as a vector")."""
        r, c = self.shape[operand]
        if not self.dims.is_one(c) or self.dims.is_one(r):
            return  # not a column vector: a scalar, a row or a matrix, which a Greek scalar offset leaves alone
        terms = self.terms(operand)
        vectors = [sign for t, sign in terms if not self.scalar(t)]
        for t, sign in terms:
            greek = self.greek_operand(t)
            if greek is not None and vectors:
                verb = ("subtracted from a vector" if sign < 0 and max(vectors) > 0 else
                        "added to a vector" if sign > 0 and max(vectors) > 0 else
                        "a vector subtracted from it" if sign > 0 else "in a sum with a vector")
                raise _Retry(greek, f"{verb} in {use} `{self.src.text[at.start:at.end]}`")

    # -- helpers ------------------------------------------------------------------------------------------------------
    def scalar(self, n: _Node) -> bool:
        r, c = self.shape[n]
        return self.dims.is_one(r) and self.dims.is_one(c)

    def term(self, d: sympy.Expr | None) -> Term:
        if d is None:
            return self.dims.new()
        self.taken.update(s.name for s in d.free_symbols)
        return d

    # -- inference ----------------------------------------------------------------------------------------------------
    def infer(self, root: _Node) -> None:
        order = _postorder(root)
        self.parent = {c: n for n in order for c in n.args}
        for n in order:
            self.shape[n] = getattr(self, f"_infer_{n.kind}")(n)

    def _infer_num(self, n: _Node) -> Shape2:
        return (ONE, ONE)

    def _infer_name(self, n: _Node) -> Shape2:
        name = n.value
        if name == "eye" and name not in self.decls:
            self.how[n] = "eye"
            d = self.dims.new()
            return (d, d)
        if name in self.fns or (name in FUNCTIONS and name not in self.decls):
            raise self.src.parse_error(f"the function {name!r} needs an argument: {name}(...) (or declare a "
                                       f"symbol of that name in the where clause)", n.pos)
        if name in ("vector", "matrix") and name not in self.decls:
            raise self.src.parse_error(f"the constant {name}(c) needs its value c, like {name}(1) (or declare a "
                                       f"symbol of that name in the where clause)", n.pos)
        if name not in self.symbols:
            _check_symbol_name(self.src, name, n.pos)
            decl = self.decls.get(name)
            if decl is not None:
                decl.used = True
                spec = decl.spec
                kind = "symmetric" if spec.symmetric else spec.kind
                self.kinds[name] = Kind(kind, "declared")
            elif name in self.inferred:
                spec = TypeSpec("vector", False, None, ONE)
                self.kinds[name] = Kind("vector", "inferred", self.inferred[name])
            else:
                kind = default_kind(name)
                spec = TypeSpec(kind, False, ONE if kind == "scalar" else None, ONE if kind != "matrix" else None)
                self.kinds[name] = Kind(kind, "default", _DEFAULT_RULE[kind])
            rows = self.term(spec.rows)
            cols = rows if spec.symmetric and spec.cols is None else self.term(spec.cols)
            self.symbols[name] = (rows, cols, spec.symmetric)
        rows, cols, _ = self.symbols[name]
        return (rows, cols)

    def _infer_const(self, n: _Node) -> Shape2:
        which, c, dims = n.value
        if which == "dim":  # a dimension used as a number
            self.term(dims[0])
            return (ONE, ONE)
        if which == "vector":
            return (self.term(dims[0] if dims else None), ONE)
        if which == "eye":
            d = self.term(dims[0] if dims else None)
            return (d, d)
        rows = self.term(dims[0] if dims else None)
        return (rows, self.term(dims[-1]) if dims else self.dims.new())

    def _infer_neg(self, n: _Node) -> Shape2:
        return self.shape[n.args[0]]

    def _infer_T(self, n: _Node) -> Shape2:
        greek = self.greek_operand(n.args[0])
        if greek is not None:  # a transposed name is not a scalar
            raise _Retry(greek, f"transposed in `{self.src.text[n.start:n.end]}`")
        self.vector_use(n.args[0], "the transpose", n)
        r, c = self.shape[n.args[0]]
        return (c, r)

    def _infer_bin(self, n: _Node) -> Shape2:
        op = n.value
        a, b = n.args
        (ar, ac), (br, bc) = self.shape[a], self.shape[b]
        sa, sb = self.scalar(a), self.scalar(b)
        if op in ("+", "-", ".*", "./"):
            self.how[n] = op
            if sa or sb:
                return self.shape[b] if sa else self.shape[a]
            if not self.dims.unify_all([(ar, br), (ac, bc)]):
                verb = {"+": "add", "-": "subtract", ".*": "multiply elementwise", "./": "divide elementwise"}[op]
                raise self.fail(f"cannot {verb} {self.show(a)} and {self.show(b)}: the shapes differ", n)
            return self.shape[a]
        if op in ("*", "@"):
            self.row_times_greek(n)
        if op == "*" and (sa or sb):
            self.how[n] = "mul"
            return self.shape[b] if sa else self.shape[a]
        if op in ("*", "@"):
            self.how[n] = "matmul"
            for x, other in ((a, sb), (b, sa)):
                if not other:  # a factor of a product with a vector or a matrix (not `x @ s`, a 1×1 factor)
                    self.vector_use(x, "the product", n)
            try:
                return OPS["matmul"].shape(self.algebra, (self.shape[a], self.shape[b]), ())
            except ShapeFailure as exc:
                hint = ""
                if op == "*" and self.dims.is_one(ac) and self.dims.is_one(bc):
                    hint = " (for two vectors, x'*y is the inner product and x.*y the elementwise one)"
                raise self.fail(exc.message.format(self.show(a), self.show(b), op="matmul") + hint, n) from None
        if op == "/":
            if not sb:
                raise self.fail(f"'/' divides by a scalar, but {self.show(b)} is not one; "
                                "use './' to divide elementwise", n)
            self.how[n] = "/"
            return self.shape[a]
        # ^ and .^
        if not sb:
            raise self.fail(f"the exponent {self.show(b)} of {op!r} must be a scalar", n)
        if op == ".^" or sa:
            self.how[n] = "power"
            return self.shape[a]
        k = b.value if b.kind == "num" else None
        if k is None or not float(k).is_integer():
            raise self.fail(f"'^' of the matrix {self.show(a)} needs a whole-number exponent (a matrix power); "
                            "use '.^' for the elementwise power", n, kinds=False)
        if abs(k) > _MAX_MATRIX_POWER:
            raise self.fail(f"the matrix power {int(k)} is too large (at most {_MAX_MATRIX_POWER})", n, kinds=False)
        if not self.dims.unify_all([(ar, ac)]):
            raise self.fail(f"'^' needs a square matrix or a scalar, but {self.show(a)} is neither; "
                            "use '.^' for the elementwise power", n)
        self.how[n] = ("matpow", int(k))
        return self.shape[a]

    def function(self, n: _Node) -> LangFunction:
        """The function a call names: a user's elementwise function or one of :data:`core.spec.FUNCTIONS`."""
        name = n.value
        if name in self.fns:
            fn = self.fns[name]
            return LangFunction(name, 1, same, lambda a: ops.apply(fn, a), doc="a user's elementwise function")
        if name in FUNCTIONS:
            return FUNCTIONS[name]
        known = ", ".join(sorted(set(FUNCTIONS) | set(self.fns))) + ", vector(c), matrix(c), eye"
        raise self.src.parse_error(f"unknown function {name!r}; the functions are: {known}", n.pos)

    def _infer_call(self, n: _Node) -> Shape2:
        f = self.function(n)
        args, extra = n.args[:f.arity], n.args[f.arity:]
        if len(args) < f.arity or len(extra) > len(f.params):
            raise self.src.parse_error(_usage(f), n.pos)
        params = tuple(self.param(f, i, a) for i, a in enumerate(extra))
        self.how[n] = (f, params)
        if f.name == "norm2" and n.value not in self.fns:
            self.vector_use(args[0], "the norm", n)
        try:
            return f.shape(self.algebra, tuple(self.shape[a] for a in args), params)  # type: ignore[no-any-return]
        except ShapeFailure as exc:  # a kind may be the cause when the rule names an operand ({0}), not a parameter
            raise self.fail(exc.message.format(*map(self.show, args), op=f.name), n,
                            kinds=re.search(r"\{\d+\}", exc.message) is not None) from None

    def param(self, f: LangFunction, i: int, a: _Node) -> int:
        """A parameter of ``f``: a whole-number literal (``sum(X, 1)``)."""
        if a.kind != "num" or not isinstance(a.value, int):
            raise self.src.parse_error(f"the {f.params[i]} of {f.name} is a whole number written as a literal, "
                                       f"like {_form(f, f.params[:i + 1], '1')}", a.pos)
        return a.value

    # -- building ------------------------------------------------------------------------------------------------------
    def build(self, root: _Node) -> Expr:
        names = self.names()
        self.symbol_exprs: dict[str, Expr] = {}
        for name, (r, c, sym) in self.symbols.items():
            self.symbol_exprs[name] = self.guard(lambda: ops.symbol(name, self.final(r, names),
                                                                    self.final(c, names), sym), root)
        built: dict[_Node, Expr] = {}
        for n in _postorder(root):
            args = [built[a] for a in n.args]
            built[n] = self.guard(lambda: getattr(self, f"_build_{n.kind}")(n, args, names), n)
        return built[root]

    def guard(self, make: Callable[[], Expr], n: _Node) -> Expr:
        try:
            return make()
        except MatderivError as exc:
            if getattr(exc, "column", 0):
                raise
            raise self.src.located(type(exc), str(exc), n.pos) from None

    def _build_num(self, n: _Node, args: list[Expr], names: dict) -> Expr:
        return ops.const(n.value)

    def _build_name(self, n: _Node, args: list[Expr], names: dict) -> Expr:
        if self.how.get(n) == "eye":
            return ops.eye(self.final(self.shape[n][0], names))
        return self.symbol_exprs[n.value]

    def _build_const(self, n: _Node, args: list[Expr], names: dict) -> Expr:
        which, c, dims = n.value
        if which == "dim":
            return ops.dim(dims[0])
        r, k = (self.final(t, names) for t in self.shape[n])
        if which == "eye":
            return ops.eye(r)
        if c == 0:
            return ops.zeros(r, k)
        return ops.ones(r, k) if c == 1 else ops.mul(c, ops.ones(r, k))

    def _build_neg(self, n: _Node, args: list[Expr], names: dict) -> Expr:
        return _neg(args[0])

    def _build_T(self, n: _Node, args: list[Expr], names: dict) -> Expr:
        return ops.transpose(args[0])

    def _build_bin(self, n: _Node, args: list[Expr], names: dict) -> Expr:
        a, b = args
        how = self.how[n]
        if how == "+":
            return ops.add(a, b)
        if how == "-":
            return ops.add(a, _neg(b))
        if how in (".*", "mul"):
            return ops.mul(a, b)
        if how == "matmul":
            return ops.matmul(a, b)
        if how in ("/", "./"):
            return ops.divide(a, b)
        if how == "power":
            return ops.power(a, b)
        _, k = how
        if k == 0:
            return ops.eye(a.shape[0])
        f = a if k > 0 else ops.inv(a)
        return f if abs(k) == 1 else ops.matmul(*[f] * abs(k))

    def _build_call(self, n: _Node, args: list[Expr], names: dict) -> Expr:
        f, params = self.how[n]
        return f.build(*args[:f.arity], *params)  # type: ignore[no-any-return]


def _form(f: LangFunction, params: tuple[str, ...] = (), value: str = "") -> str:
    """How a call of ``f`` is written: ``solve(A, B)``, ``sum(A, axis)`` (or with ``value`` for the last)."""
    args = ["A", "B", "C", "D"][:f.arity] if f.arity <= 4 else [f"A{i}" for i in range(1, f.arity + 1)]
    ps = list(params[:-1]) + [value or params[-1]] if params else []
    return f"{f.name}({', '.join(args + ps)})"


def _usage(f: LangFunction) -> str:
    """The message for a call with the wrong number of arguments."""
    s = "s" if f.arity != 1 else ""
    if not f.params:
        return f"{f.name} takes {f.arity} argument{s}: {_form(f)}"
    forms = " or ".join(_form(f, f.params[:k]) for k in range(len(f.params) + 1))
    return (f"{f.name} takes {f.arity} argument{s} and then, optionally, its parameter{'s' if len(f.params) > 1 else ''} "
            f"{', '.join(f.params)} (whole numbers): {forms}")


def _neg(e: Expr) -> Expr:
    """−e; the negative of a number is a number."""
    return ops.const(-e.params[0]) if e.op == "const" else ops.neg(e)
