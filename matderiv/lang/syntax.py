"""The text language's syntax: vocabulary, source positions, the lexer, the AST and the recursive-descent
parser (no evaluation of the text anywhere). :mod:`matderiv.infer` types the AST; :mod:`matderiv.parse` is the
entry point."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, TypeVar

import sympy

from ..core.errors import ArgumentError, MatderivError, ParseError, ShapeError
from ..core.expr import ONE, Expr, as_dim, check_name, dim_symbol


# ---- vocabulary ------------------------------------------------------------------------------------------------
CONSTANTS = ("vector", "matrix", "eye", "dim")
TYPES = ("scalar", "vector", "matrix", "symmetric")
#: Greek letter names: a name that is one of these, optionally followed by digits or ``_...``, is a scalar.
GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu
    xi omicron pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega""".split())
_GREEK_NAME = re.compile(r"([a-z]+)(\d+|_\w*)?")
_AUTO_DIMS = ("n", "m", "k", "p", "q", "r", "s", "t", "u", "v", "w")
_MAX_DEPTH = 120          # nesting of parentheses, calls and unary minus (keeps Python's stack safe)
_MAX_MATRIX_POWER = 100
_E = TypeVar("_E", bound=MatderivError)  # the class of a located error


def default_kind(name: str) -> str:
    """The type a name has unless declared: Greek → ``scalar``, upper-case initial → ``matrix``, else ``vector``."""
    m = _GREEK_NAME.fullmatch(name)
    if (m and m.group(1) in GREEK) or "\u03b1" <= name[0] <= "\u03c9":
        return "scalar"
    return "matrix" if name[0].isupper() else "vector"


# ---- dimensions as the language writes them ------------------------------------------------------------------
def dim_text(d: sympy.Expr) -> str:
    """A dimension in the language's dimension syntax: ``n``, ``3``, ``n*p``, ``n^2``, ``2*n + 1``, ``n/2``."""
    d = sympy.sympify(d)
    if d.is_Integer or d.is_Symbol:
        return str(d)
    num, den = sympy.fraction(d)
    if den != 1:
        return f"{_dim_factor(num)}/{_dim_factor(den)}"
    if d.is_Add:
        out = ""
        for i, t in enumerate(d.as_ordered_terms()):
            if t.could_extract_minus_sign() and i:
                out += f" - {dim_text(-t)}"
            else:
                out += (" + " if i else "") + dim_text(t)
        return out
    if d.is_Mul:
        c, factors = d.as_coeff_mul()
        body = "*".join(_dim_factor(f) for f in factors)
        return body if c == 1 else "-" + body if c == -1 else f"{c}*{body}"
    if d.is_Pow and d.exp.is_Integer and d.exp > 0:
        return f"{_dim_factor(d.base)}^{d.exp}"
    raise ArgumentError(f"the dimension {d} cannot be written in the text language")


def _dim_factor(d: sympy.Expr) -> str:
    s = dim_text(d)
    return f"({s})" if d.is_Add or (d.is_Mul and sympy.fraction(d)[1] != 1) or s.startswith("-") else s



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

    def located(self, cls: type[_E], message: str, pos: int) -> _E:
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
        return cls("matrix", s.symmetric and not s.is_scalar, s.shape[0], s.shape[1])

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
            if t.text in ("/", "./") and right.kind == "num" and right.value == 0:
                raise self.error("division by zero", t)
            if (t.text == "/" and left.kind == right.kind == "num" and isinstance(left.value, (int, Fraction))
                    and isinstance(right.value, int) and right.value != 0):  # 1/3 is the exact fraction
                left = _Node("num", left.pos, left.start, right.end, (), Fraction(left.value, right.value))
                continue
            left = _Node("bin", t.pos, left.start, right.end, (left, right), t.text)

    def unary(self) -> _Node:
        return self.signed(self.unary, self.postfix)

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
        return self.signed(self.exponent, self.primary)

    def signed(self, again: Callable[[], _Node], otherwise: Callable[[], _Node]) -> _Node:
        """A leading '-' or '+' applied to ``again()`` (so signs may repeat), else ``otherwise()``."""
        if self.at("-", "+"):
            t = self.next()
            self.deeper()
            operand = again()
            self.depth -= 1
            return _negate(t, operand)
        return otherwise()

    def primary(self) -> _Node:
        t = self.peek()
        if t.kind == "num":
            self.next()
            return _Node("num", t.pos, t.pos, t.end, (), self.number(t))
        if t.kind == "name":
            self.next()
            if self.at("("):
                return self.call(t)
            return _Node("name", t.pos, t.pos, t.end, (), t.text)
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
        if name.text in CONSTANTS:
            c: int | float = 1
            if name.text not in ("eye", "dim"):
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
            limit = {"vector": 1, "matrix": 2, "eye": 1, "dim": 1}[name.text]
            if len(dims) > limit:
                form = {"vector": "vector(c) or vector(c, n)", "matrix": "matrix(c), matrix(c, n) or "
                        "matrix(c, n, m)", "eye": "eye or eye(n)", "dim": "dim(n)"}[name.text]
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
        return t


def _negate(t: _Token, operand: _Node) -> _Node:
    """Unary minus; on a number it makes the negative number (so ``-2*x`` scales by the number −2)."""
    if t.text == "+":
        return operand
    if operand.kind == "num":
        return _Node("num", t.pos, t.pos, operand.end, (), -operand.value)
    return _Node("neg", t.pos, t.pos, operand.end, (operand,))


def _check_symbol_name(src: _Source, name: str, pos: int) -> None:
    try:
        check_name(name)
    except MatderivError as exc:
        raise src.parse_error(str(exc), pos) from None
