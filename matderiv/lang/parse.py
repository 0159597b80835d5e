"""The MatrixCalculus-style text language: ``md.parse("x'*A*x where A: symmetric")`` → expression.

Three stages, none of which evaluates the text: a lexer (a regular expression over tokens) and a
recursive-descent parser to a small AST (:mod:`matderiv.syntax`), then type and dimension inference by
unification (union-find over dimension variables, where the literal 1 stands for a vector's columns and a
scalar's size) before the expression is built with the public constructors of :mod:`matderiv.ops`
(:mod:`matderiv.infer`). docs/language.md has the grammar,
the precedence table and the inference rules.

Rules in brief: ``*`` is the matrix product unless one side is 1×1 (then it scales); a dimension variable is
never 1 (so whether an operand is 1×1 is known from its kind alone, bottom-up, and ``*`` is never ambiguous);
``/`` and ``^`` take a scalar on the right; ``^`` of a square matrix by an integer is a matrix power; a Greek
name, a scalar by default, is a vector where its use shows it (transposed, a row times it, added to a vector in a
sum normed, transposed or multiplied, or the one way out of a shape conflict); :func:`parse` does not say so,
:func:`parse_kinds` says how each kind was decided.
"""
from __future__ import annotations

import sympy

from ..core.errors import ArgumentError
from ..core.expr import Expr, check_name
from ..core.functions import Fn, make_fn
from ..core.spec import FUNCTIONS
from .infer import Kind, _Checker, infer
from .syntax import CONSTANTS, GREEK, TYPES, TypeSpec, _Decl, _Node, _Parser, _Source, default_kind

__all__ = ["parse", "parse_kinds", "Kind", "default_kind", "FUNCTIONS", "TYPES", "GREEK"]


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
    checker, root = _inferred(text, types)
    return checker.build(root)


def parse_kinds(text: str, /, **types: object) -> tuple[Expr, dict[str, Kind]]:
    """:func:`parse`'s expression and how each symbol's kind was decided: declared, by its name's default, or
    inferred from its use (a Greek name transposed, or a row times it, is a vector: docs/language.md).

    >>> e, kinds = parse_kinds("alpha'*K*alpha + mu")
    >>> kinds["alpha"].note("alpha"), kinds["mu"].note("mu")
    ('a vector: transposed in `alpha'`', 'scalar, the default for Greek names; write `where mu: vector` to change it')
    """
    checker, root = _inferred(text, types)
    return checker.build(root), dict(checker.kinds)


def _inferred(text: str, types: dict[str, object]) -> tuple[_Checker, _Node]:
    """The syntax tree of ``text`` with every node's shape inferred (the checker that did it builds it)."""
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
    checker = infer(src, decls, fns, root)
    for name, d in decls.items():
        if not d.used:
            if d.source == "where":
                raise src.parse_error(f"{name!r} is declared but not used in the expression", d.pos)
            raise ArgumentError(f"the keyword argument {name}= declares a symbol the expression does not use")
    return checker, root
