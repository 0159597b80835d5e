"""Type and dimension inference for the text language: union-find over dimension variables (the literal 1 stands
for a vector's columns and a scalar's size), then building the expression with :mod:`matderiv.ops`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

import sympy

from .. import ops
from ..core.errors import MatderivError, ShapeError
from ..core.expr import ONE, Expr, dim_symbol
from ..core.functions import NAMED, Fn
from .syntax import (_AUTO_DIMS, dim_text, _MAX_MATRIX_POWER, FUNCTIONS, TypeSpec, _check_symbol_name, _Decl, _Node,
                     _Source, default_kind)


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

    def __init__(self, src: _Source, decls: dict[str, _Decl], fns: dict[str, Fn]) -> None:
        self.src = src
        self.decls = decls
        self.fns = fns
        self.dims = _Dims()
        self.shape: dict[_Node, Shape2] = {}
        self.how: dict[_Node, Any] = {}
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

    def show(self, n: _Node) -> str:
        names = self.names()
        r, c = (self.final(t, names) for t in self.shape[n])
        return f"'{self.src.text[n.start:n.end]}' ({dim_text(r)}×{dim_text(c)})"

    def fail(self, message: str, n: _Node) -> MatderivError:
        return self.src.located(ShapeError, message, n.pos)

    # -- helpers ------------------------------------------------------------------------------------------------------
    def scalar(self, n: _Node) -> bool:
        r, c = self.shape[n]
        return self.dims.is_one(r) and self.dims.is_one(c)

    def term(self, d: sympy.Expr | None) -> Term:
        if d is None:
            return self.dims.new()
        self.taken.update(s.name for s in d.free_symbols)
        return d

    def square(self, n: _Node, arg: _Node, what: str) -> None:
        r, c = self.shape[arg]
        if not self.dims.unify_all([(r, c)]):
            raise self.fail(f"{what} needs a square matrix, but {self.show(arg)} is not square", n)

    # -- inference ----------------------------------------------------------------------------------------------------
    def infer(self, root: _Node) -> None:
        for n in _postorder(root):
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
            else:
                spec = TypeSpec(default_kind(name), False, ONE if default_kind(name) == "scalar" else None,
                                ONE if default_kind(name) != "matrix" else None)
            rows = self.term(spec.rows)
            cols = rows if spec.symmetric and spec.cols is None else self.term(spec.cols)
            self.symbols[name] = (rows, cols, spec.symmetric)
        rows, cols, _ = self.symbols[name]
        return (rows, cols)

    def _infer_const(self, n: _Node) -> Shape2:
        which, c, dims = n.value
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
        if op == "*" and (sa or sb):
            self.how[n] = "mul"
            return self.shape[b] if sa else self.shape[a]
        if op in ("*", "@"):
            self.how[n] = "matmul"
            if not self.dims.unify_all([(ac, br)]):
                hint = ""
                if op == "*" and self.dims.is_one(ac) and self.dims.is_one(bc):
                    hint = " (for two vectors, x'*y is the inner product and x.*y the elementwise one)"
                raise self.fail(f"cannot multiply {self.show(a)} by {self.show(b)}: the inner dimensions "
                                f"differ{hint}", n)
            return (ar, bc)
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
                            "use '.^' for the elementwise power", n)
        if abs(k) > _MAX_MATRIX_POWER:
            raise self.fail(f"the matrix power {int(k)} is too large (at most {_MAX_MATRIX_POWER})", n)
        if not self.dims.unify_all([(ar, ac)]):
            raise self.fail(f"'^' needs a square matrix or a scalar, but {self.show(a)} is neither; "
                            "use '.^' for the elementwise power", n)
        self.how[n] = ("matpow", int(k))
        return self.shape[a]

    def _infer_call(self, n: _Node) -> Shape2:
        name, args = n.value, n.args
        if name in self.fns:
            arity = 1
        elif name in FUNCTIONS:
            arity = FUNCTIONS[name]
        else:
            known = ", ".join(sorted(set(FUNCTIONS) | set(self.fns))) + ", vector(c), matrix(c), eye"
            raise self.src.parse_error(f"unknown function {name!r}; the functions are: {known}", n.pos)
        if len(args) != arity:
            form = f"{name}(A, B)" if arity == 2 else f"{name}(A)"
            raise self.src.parse_error(f"{name} takes {arity} argument{'s' if arity > 1 else ''}: {form}", n.pos)
        shapes = [self.shape[a] for a in args]
        if name in ("tr", "det", "logdet"):
            self.square(n, args[0], name)
            return (ONE, ONE)
        if name == "inv":
            self.square(n, args[0], name)
            return shapes[0]
        if name in ("sum", "norm1", "norm2", "logsumexp"):
            return (ONE, ONE)
        if name == "solve":
            a, b = args
            self.square(n, a, "solve(A, B)")
            if not self.dims.unify_all([(shapes[0][1], shapes[1][0])]):
                raise self.fail(f"solve(A, B) needs B with as many rows as A: {self.show(a)}, {self.show(b)}", n)
            return shapes[1]
        if name == "diag":
            r, c = shapes[0]
            if self.scalar(args[0]):
                return shapes[0]
            if self.dims.is_one(c):
                return (r, r)
            self.square(n, args[0], "diag (of a matrix: its diagonal; of a vector: the diagonal matrix)")
            return (r, ONE)
        if name == "softmax":
            if not self.dims.unify_all([(shapes[0][1], ONE)]):
                raise self.fail(f"softmax needs a vector, but {self.show(args[0])} is not one", n)
            return shapes[0]
        if name == "kron":
            (ar, ac), (br, bc) = shapes
            return (self.dims.prod(self.dims.resolve(ar), self.dims.resolve(br)),
                    self.dims.prod(self.dims.resolve(ac), self.dims.resolve(bc)))
        if name in ("blockdot", "blocksum"):
            return (self.quotient(n, shapes[0][0], shapes[1][0]), self.quotient(n, shapes[0][1], shapes[1][1]))
        return shapes[0]  # elementwise

    def quotient(self, n: _Node, whole: Term, part: Term) -> Term:
        """The number of blocks along one axis: whole / part (the shapes of blockdot and blocksum)."""
        w, p = self.dims.resolve(whole), self.dims.resolve(part)
        if isinstance(w, _Prod) and self.dims.unify_all([(w.b, p)]):
            return w.a
        if isinstance(p, sympy.Expr) and p == ONE:
            return w
        if isinstance(w, sympy.Expr) and isinstance(p, sympy.Expr):
            q = sympy.cancel(w / p)
            if sympy.fraction(q)[1] == 1 and (not q.is_number or (q.is_Integer and q > 0)):
                return q
            raise self.fail(f"{n.value}: {self.show(n.args[0])} is not made of blocks of the shape of "
                            f"{self.show(n.args[1])}", n)
        raise self.fail(f"cannot infer the shape of {n.value}(...): declare the dimensions of its arguments", n)

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
        which, c, _ = n.value
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
        name = n.value
        if name in self.fns:
            return ops.apply(self.fns[name], args[0])
        if name in NAMED:
            return ops.apply(name, args[0])
        f = {"tr": ops.trace, "det": ops.det, "logdet": ops.logdet, "inv": ops.inv, "solve": ops.solve,
             "sum": ops.sum_, "norm1": ops.norm1, "norm2": ops.norm2, "diag": ops.diag, "kron": ops.kron,
             "logsumexp": ops.logsumexp, "softmax": ops.softmax, "blockdot": ops.blockdot,
             "blocksum": ops.blocksum}[name]
        return f(*args)  # type: ignore[operator]


def _neg(e: Expr) -> Expr:
    """−e; the negative of a number is a number."""
    return ops.const(-e.params[0]) if e.op == "const" else ops.neg(e)
