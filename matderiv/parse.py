"""The MatrixCalculus-style text language: ``md.parse("x'*A*x where A: symmetric")`` → expression.

Three stages, none of which evaluates the text: a lexer (a regular expression over tokens), a
recursive-descent parser to a small AST, then type and dimension inference by unification (union-find over
dimension variables, where the literal 1 stands for a vector's columns and a scalar's size) before the
expression is built with the public constructors of :mod:`matderiv.ops`. docs/language.md has the grammar,
the precedence table and the inference rules.

Rules in brief: ``*`` is the matrix product unless one side is 1×1 (then it scales); a dimension variable is
never 1 (so whether an operand is 1×1 is known from its kind alone, bottom-up, and ``*`` is never ambiguous);
``/`` and ``^`` take a scalar on the right; ``^`` of a square matrix by an integer is a matrix power.
"""
from __future__ import annotations

import math
from fractions import Fraction
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

import sympy

from . import ops
from .errors import ArgumentError, MatderivError, ParseError, ShapeError
from .expr import ONE, Expr, as_dim, check_name, dim_symbol
from .functions import NAMED, Fn, make_fn

__all__ = ["parse", "default_kind", "FUNCTIONS", "TYPES", "GREEK"]

# ---- vocabulary ------------------------------------------------------------------------------------------------
#: Functions of the language and their number of arguments (elementwise ones are those of functions.NAMED).
FUNCTIONS: dict[str, int] = {
    "tr": 1, "det": 1, "logdet": 1, "inv": 1, "solve": 2, "sum": 1, "norm1": 1, "norm2": 1, "diag": 1,
    "kron": 2, "logsumexp": 1, "softmax": 1, "blockdot": 2, "blocksum": 2,
    **{name: 1 for name in NAMED},
}
CONSTANTS = ("vector", "matrix", "eye")
TYPES = ("scalar", "vector", "matrix", "symmetric")
#: Greek letter names: a name that is one of these, optionally followed by digits or ``_...``, is a scalar.
GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu
    xi omicron pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega""".split())
_GREEK_NAME = re.compile(r"([a-z]+)(\d+|_\w*)?")
#: ``lambda`` is a Python keyword, so the Greek scalar written ``lambda`` is the symbol ``lambda_`` (printed λ).
_ALIASES = {"lambda": "lambda_"}
_AUTO_DIMS = ("n", "m", "k", "p", "q", "r", "s", "t", "u", "v", "w")
_MAX_DEPTH = 120          # nesting of parentheses, calls and unary minus (keeps Python's stack safe)
_MAX_MATRIX_POWER = 100


def default_kind(name: str) -> str:
    """The type a name has unless declared: Greek → ``scalar``, upper-case initial → ``matrix``, else ``vector``."""
    m = _GREEK_NAME.fullmatch(name)
    if (m and m.group(1) in GREEK) or "\u03b1" <= name[0] <= "\u03c9":
        return "scalar"
    return "matrix" if name[0].isupper() else "vector"


# ---- source positions and errors --------------------------------------------------------------------------------
class _Source:
    def __init__(self, text: str) -> None:
        self.text = text

    def locate(self, pos: int) -> tuple[str, int, str]:
        """The line holding offset ``pos``, the 1-based column in it, and ' on line k' for multi-line text."""
        pos = max(0, min(pos, len(self.text)))
        start = self.text.rfind("\n", 0, pos) + 1
        end = self.text.find("\n", pos)
        line = self.text[start:] if end < 0 else self.text[start:end]
        where = "" if "\n" not in self.text else f" on line {self.text.count(chr(10), 0, pos) + 1}"
        return line.replace("\t", " "), pos - start + 1, where

    def parse_error(self, message: str, pos: int) -> ParseError:
        line, col, where = self.locate(pos)
        return ParseError(message + where, line, col)

    def located(self, cls: type[MatderivError], message: str, pos: int) -> MatderivError:
        """An error of class ``cls`` whose message ends with the column and a caret line, as ParseError's."""
        line, col, where = self.locate(pos)
        exc = cls(f"{message}{where} (column {col})\n  {line}\n  {' ' * (col - 1)}^")
        exc.text, exc.column, exc.reason = line, col, message  # type: ignore[attr-defined]
        return exc


# ---- lexer --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "op", "end"
    text: str
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.text)


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\.\*|\./|\.\^|\.'|\*\*|[-+*/^'(),:@])
""", re.VERBOSE)


def _lex(src: _Source) -> list[_Token]:
    text, pos, out = src.text, 0, []
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise src.parse_error(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Token(kind, m.group(), pos))
        pos = m.end()
    out.append(_Token("end", "", len(text)))
    return out


# ---- AST ----------------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Node:
    """kind: num (value: number), name (value: str), call (value: function name), const (value: (which, c,
    dims)), neg, T (transpose), bin (value: the operator). ``pos`` is what an error points at; ``start:end``
    is the source span."""

    kind: str
    pos: int
    start: int
    end: int
    args: tuple[_Node, ...] = ()
    value: Any = None


@dataclass(frozen=True)
class TypeSpec:
    """A declared type: kind scalar/vector/matrix, symmetric flag, explicit dims (None = inferred)."""

    kind: str
    symmetric: bool = False
    rows: sympy.Expr | None = None
    cols: sympy.Expr | None = None

    @classmethod
    def of_symbol(cls, s: Expr) -> TypeSpec:
        return cls("matrix", bool(s.params[1]), s.shape[0], s.shape[1])

    def describe(self) -> str:
        dims = [d for d in (self.rows, self.cols) if d is not None]
        kind = "symmetric" if self.symmetric else self.kind
        return kind + (f"({', '.join(map(str, dims))})" if dims and kind != "scalar" else "")


@dataclass
class _Decl:
    spec: TypeSpec
    pos: int            # position of the name in the where clause, -1 for a keyword argument
    source: str         # "where" or "keyword"
    used: bool = False


class _Parser:
    def __init__(self, src: _Source) -> None:
        self.src = src
        self.toks = _lex(src)
        self.i = 0
        self.depth = 0

    # -- token helpers ---------------------------------------------------------------------------------------------
    def peek(self) -> _Token:
        return self.toks[self.i]

    def next(self) -> _Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, *ops_: str) -> bool:
        t = self.toks[self.i]
        return t.kind == "op" and t.text in ops_

    def at_name(self, name: str) -> bool:
        t = self.toks[self.i]
        return t.kind == "name" and t.text == name

    def expect(self, op: str, opened: _Token | None = None) -> _Token:
        if self.at(op):
            return self.next()
        t = self.peek()
        found = "the end of the text" if t.kind == "end" else repr(t.text)
        if opened is not None and op == ")":
            raise self.src.parse_error(f"'(' is not closed: expected ')' but found {found}", opened.pos)
        raise self.src.parse_error(f"expected {op!r} but found {found}", t.pos)

    def error(self, message: str, t: _Token | None = None) -> ParseError:
        return self.src.parse_error(message, (t or self.peek()).pos)

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"the expression is nested too deeply (more than {_MAX_DEPTH} levels)")

    # -- the expression grammar -------------------------------------------------------------------------------------
    def statement(self) -> tuple[_Node, list[tuple[str, int, TypeSpec]]]:
        if self.peek().kind == "end":
            raise self.error("empty expression")
        e = self.expr()
        decls: list[tuple[str, int, TypeSpec]] = []
        t = self.peek()
        if t.kind == "name" and t.text == "where":
            self.next()
            decls = self.where_clause()
        elif t.kind != "end":
            if t.kind == "op" and t.text == ")":
                raise self.error("unmatched ')'")
            if t.kind == "op" and t.text == ":":
                raise self.error("unexpected ':' (declarations go after 'where': x'*A*x where A: matrix)")
            if t.kind == "op" and t.text == ",":
                raise self.error("unexpected ',' outside a function call")
            raise self.error(f"unexpected {t.text!r} after a complete expression (a missing operator?)")
        return e, decls

    def expr(self) -> _Node:
        self.deeper()
        left = self.term()
        while self.at("+", "-"):
            t = self.next()
            right = self.term()
            left = _Node("bin", t.pos, left.start, right.end, (left, right), t.text)
        self.depth -= 1
        return left

    def term(self) -> _Node:
        left = self.unary()
        while True:
            if self.at("**"):
                raise self.error("'**' is not in the language: write '^' (matrix or scalar power) or '.^' "
                                 "(elementwise power)")
            if not self.at("*", "/", ".*", "./", "@"):
                return left
            t = self.next()
            right = self.unary()
            if (t.text == "/" and left.kind == right.kind == "num" and isinstance(left.value, (int, Fraction))
                    and isinstance(right.value, int) and right.value != 0):  # 1/3 is the exact fraction
                left = _Node("num", left.pos, left.start, right.end, (), Fraction(left.value, right.value))
                continue
            left = _Node("bin", t.pos, left.start, right.end, (left, right), t.text)

    def unary(self) -> _Node:
        if self.at("-", "+"):
            t = self.next()
            self.deeper()
            operand = self.unary()
            self.depth -= 1
            return _negate(t, operand)
        return self.postfix()

    def postfix(self) -> _Node:
        node = self.primary()
        while True:
            if self.at("'", ".'"):
                t = self.next()
                node = _Node("T", t.pos, node.start, t.end, (node,))
            elif self.at("^", ".^"):
                t = self.next()
                e = self.exponent()
                node = _Node("bin", t.pos, node.start, e.end, (node, e), t.text)
            else:
                return node

    def exponent(self) -> _Node:
        if self.at("-", "+"):
            t = self.next()
            self.deeper()
            operand = self.exponent()
            self.depth -= 1
            return _negate(t, operand)
        return self.primary()

    def primary(self) -> _Node:
        t = self.peek()
        if t.kind == "num":
            self.next()
            return _Node("num", t.pos, t.pos, t.end, (), self.number(t))
        if t.kind == "name":
            self.next()
            if self.at("("):
                return self.call(t)
            return _Node("name", t.pos, t.pos, t.end, (), _ALIASES.get(t.text, t.text))
        if self.at("("):
            opened = self.next()
            if self.at(")"):
                raise self.error("empty parentheses")
            e = self.expr()
            close = self.expect(")", opened)
            e.start, e.end = opened.pos, close.end
            return e
        if t.kind == "end":
            raise self.error("unexpected end of the text: an operand is missing")
        raise self.error(f"expected an operand (a name, a number, a function call or '(') but found {t.text!r}")

    def number(self, t: _Token) -> int | float:
        if any(c in t.text for c in ".eE"):
            v = float(t.text)
            if not math.isfinite(v):
                raise self.error(f"the number {t.text} is too large", t)
            return v
        return int(t.text)

    def call(self, name: _Token) -> _Node:
        opened = self.next()
        self.deeper()
        if name.text in ("vector", "matrix", "eye"):
            c: int | float = 1
            if name.text != "eye":
                c = self.signed_number(name.text)
                if not self.at(","):
                    dims: list[sympy.Expr] = []
                    close = self.expect(")", opened)
                    self.depth -= 1
                    return _Node("const", name.pos, name.pos, close.end, (), (name.text, c, dims))
                self.next()
            dims = [self.dim()]
            while self.at(","):
                self.next()
                dims.append(self.dim())
            close = self.expect(")", opened)
            limit = {"vector": 1, "matrix": 2, "eye": 1}[name.text]
            if len(dims) > limit:
                form = {"vector": "vector(c) or vector(c, n)", "matrix": "matrix(c), matrix(c, n) or "
                        "matrix(c, n, m)", "eye": "eye or eye(n)"}[name.text]
                raise self.src.parse_error(f"too many dimensions: write {form}", name.pos)
            self.depth -= 1
            return _Node("const", name.pos, name.pos, close.end, (), (name.text, c, dims))
        args: list[_Node] = []
        if not self.at(")"):
            args.append(self.expr())
            while self.at(","):
                self.next()
                args.append(self.expr())
        close = self.expect(")", opened)
        self.depth -= 1
        return _Node("call", name.pos, name.pos, close.end, tuple(args), name.text)

    def signed_number(self, what: str) -> int | float:
        sign = 1
        while self.at("-", "+"):
            sign = -sign if self.next().text == "-" else sign
        t = self.peek()
        if t.kind != "num":
            raise self.error(f"{what}(c) needs a number c (all entries equal c), like {what}(1)")
        self.next()
        return sign * self.number(t)

    # -- dimensions and types ------------------------------------------------------------------------------------------
    def dim(self) -> sympy.Expr:
        """A dimension: a positive int, a name, or +, -, *, /, ^ (integer exponent) of those."""
        start = self.peek()
        d = self.dim_sum()
        try:
            return as_dim(d)
        except MatderivError:
            raise self.error(f"the dimension {d} is not a positive integer or an expression of names", start)

    def dim_sum(self) -> sympy.Expr:
        left = self.dim_product()
        while self.at("+", "-"):
            op = self.next().text
            right = self.dim_product()
            left = left + right if op == "+" else left - right
        return left

    def dim_product(self) -> sympy.Expr:
        left = self.dim_factor()
        while self.at("*", "/"):
            op = self.next().text
            right = self.dim_factor()
            left = left * right if op == "*" else left / right
        return left

    def dim_factor(self) -> sympy.Expr:
        if self.at("-"):
            self.next()
            return -self.dim_factor()
        base = self.dim_atom()
        if self.at("^"):
            self.next()
            t = self.peek()
            if t.kind != "num" or not t.text.isdigit():
                raise self.error("a dimension's exponent must be a whole number")
            self.next()
            return base ** int(t.text)
        return base

    def dim_atom(self) -> sympy.Expr:
        t = self.peek()
        if t.kind == "num":
            if not t.text.isdigit():
                raise self.error(f"a dimension must be a whole number, not {t.text}")
            self.next()
            return sympy.Integer(int(t.text))
        if t.kind == "name":
            self.next()
            try:
                return dim_symbol(t.text)
            except MatderivError as exc:
                raise self.error(str(exc), t) from None
        if self.at("("):
            opened = self.next()
            self.deeper()
            d = self.dim_sum()
            self.expect(")", opened)
            self.depth -= 1
            return d
        found = "the end of the text" if t.kind == "end" else repr(t.text)
        raise self.error(f"expected a dimension (a whole number or a name) but found {found}")

    def type_spec(self) -> TypeSpec:
        t = self.peek()
        if t.kind != "name" or t.text not in TYPES:
            found = "nothing" if t.kind == "end" else repr(t.text)
            raise self.error(f"expected a type (scalar, vector, matrix or symmetric, each optionally with "
                             f"dimensions: vector(n), matrix(n, m), symmetric(n)) but found {found}")
        self.next()
        kind = t.text
        if kind == "symmetric" and self.at_name("matrix"):
            self.next()
        dims: list[sympy.Expr] = []
        if self.at("("):
            opened = self.next()
            dims.append(self.dim())
            while self.at(","):
                self.next()
                dims.append(self.dim())
            self.expect(")", opened)
        limit = {"scalar": 0, "vector": 1, "matrix": 2, "symmetric": 2}[kind]
        if len(dims) > limit:
            raise self.error(f"too many dimensions for {kind}", t)
        if kind == "scalar":
            return TypeSpec("scalar", False, ONE, ONE)
        if kind == "vector":
            return TypeSpec("vector", False, dims[0] if dims else None, ONE)
        if len(dims) == 2 and kind == "symmetric" and dims[0] != dims[1]:
            raise self.src.located(ShapeError, f"a symmetric matrix is square, not {dims[0]}×{dims[1]}", t.pos)
        rows = dims[0] if dims else None
        cols = dims[-1] if dims else None
        return TypeSpec("matrix", kind == "symmetric", rows, cols)

    def where_clause(self) -> list[tuple[str, int, TypeSpec]]:
        out: list[tuple[str, int, TypeSpec]] = []
        while True:
            names = [self.decl_name()]
            while self.at(","):
                self.next()
                names.append(self.decl_name())
            self.expect(":")
            spec = self.type_spec()
            out.extend((n.text, n.pos, spec) for n in names)
            if self.at(","):
                self.next()
                continue
            t = self.peek()
            if t.kind != "end":
                raise self.error(f"unexpected {t.text!r} in the where clause (declarations are 'name: type', "
                                 "separated by commas)")
            return out

    def decl_name(self) -> _Token:
        t = self.peek()
        if t.kind != "name":
            found = "the end of the text" if t.kind == "end" else repr(t.text)
            raise self.error(f"expected a name to declare but found {found}")
        self.next()
        _check_symbol_name(self.src, t.text, t.pos)
        return _Token(t.kind, _ALIASES[t.text], t.pos) if t.text in _ALIASES else t


def _negate(t: _Token, operand: _Node) -> _Node:
    """Unary minus; on a number it makes the negative number (so ``-2*x`` scales by the number −2)."""
    if t.text == "+":
        return operand
    if operand.kind == "num":
        return _Node("num", t.pos, t.pos, operand.end, (), -operand.value)
    return _Node("neg", t.pos, t.pos, operand.end, (operand,))


def _check_symbol_name(src: _Source, name: str, pos: int) -> None:
    try:
        check_name(_ALIASES.get(name, name))
    except MatderivError as exc:
        raise src.parse_error(str(exc), pos) from None


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


def _dim_text(d: sympy.Expr) -> str:
    from .printing.language import dim_text
    return dim_text(d)


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
        return f"'{self.src.text[n.start:n.end]}' ({_dim_text(r)}×{_dim_text(c)})"

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


# ---- the entry point -------------------------------------------------------------------------------------------------
def parse_type(text: str) -> TypeSpec:
    """A type such as ``"matrix"``, ``"vector(n)"``, ``"symmetric(3)"``, ``"matrix(n, m)"``, ``"scalar"``."""
    if not isinstance(text, str):
        raise ArgumentError(f"a type must be a string such as 'matrix(n, m)', got {type(text).__name__} {text!r}")
    p = _Parser(_Source(text))
    spec = p.type_spec()
    if p.peek().kind != "end":
        raise p.error(f"unexpected {p.peek().text!r} after the type")
    return spec


def _keyword_types(types: dict[str, object]) -> tuple[dict[str, _Decl], dict[str, Fn]]:
    decls: dict[str, _Decl] = {}
    fns: dict[str, Fn] = {}
    for name, value in types.items():
        check_name(name)
        if isinstance(value, str):
            decls[name] = _Decl(parse_type(value), -1, "keyword")
        elif isinstance(value, Expr):
            if not value.is_symbol or value.name != name:
                raise ArgumentError(f"the keyword argument {name}= must be a type string or the symbol named "
                                    f"{name!r}, got {value}")
            decls[name] = _Decl(TypeSpec.of_symbol(value), -1, "keyword")
        elif isinstance(value, sympy.Expr) or callable(value):
            if name in FUNCTIONS or name in CONSTANTS:
                raise ArgumentError(f"{name!r} is a built-in function of the language; name your function otherwise")
            fns[name] = make_fn(name, value)  # type: ignore[arg-type]
        else:
            raise ArgumentError(f"the keyword argument {name}= must be a type string ('matrix', 'vector(n)', ...), "
                                f"a symbol, or an elementwise function (a SymPy expression or a lambda), "
                                f"got {type(value).__name__} {value!r}")
    return decls, fns


def parse(text: str, /, **types: object) -> Expr:
    """The expression written in the text language (see docs/language.md).

    ``types`` declare symbols as the where clause does (``A="symmetric"``, ``x="vector(n)"``, or a matderiv
    symbol), or give elementwise functions (``f=lambda t: t**3``). Raises ParseError for text outside the
    language and ShapeError when the shapes cannot fit; both point at the column.

    >>> parse("a'*X*b")
    a.T @ X @ b
    """
    if not isinstance(text, str):
        raise ArgumentError(f"md.parse needs a string, got {type(text).__name__} {text!r}")
    src = _Source(text)
    kw_decls, fns = _keyword_types(types)
    root, where = _Parser(src).statement()
    decls = dict(kw_decls)
    seen: set[str] = set()
    for name, pos, spec in where:
        if name in seen:
            raise src.parse_error(f"{name!r} is declared twice", pos)
        seen.add(name)
        if name in fns:
            raise src.parse_error(f"{name!r} is an elementwise function (a keyword argument), not a symbol", pos)
        old = decls.get(name)
        if old is not None and old.spec != spec:
            raise src.parse_error(f"{name!r} is declared {spec.describe()} here but {old.spec.describe()} "
                                  "by the keyword argument", pos)
        decls[name] = _Decl(spec, pos, "where")
    checker = _Checker(src, decls, fns)
    checker.infer(root)
    for name, d in decls.items():
        if not d.used:
            if d.source == "where":
                raise src.parse_error(f"{name!r} is declared but not used in the expression", d.pos)
            raise ArgumentError(f"the keyword argument {name}= declares a symbol the expression does not use")
    return checker.build(root)
