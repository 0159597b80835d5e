"""The arguments of a generated function, shared by every backend: parameter identifiers, which argument's shape
gives each dimension, which shapes are checked against which, and the dimensions no argument fixes, which become
keyword-only parameters named after them (``def f(s, *, n):``).

A backend renders the plan in its own code (``np.asarray`` and ``.shape`` for numpy, ``_in`` and ``.rows`` for
mpmath); what it renders — the identifiers, the bindings, the checks and their messages — is decided here once.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import sympy
from sympy.printing.pycode import pycode

from ..core.errors import ArgumentError
from ..core.expr import Expr, iter_nodes
from .common import DimUse, Names, dim_bindings, dim_uses, parameter_names

#: How an error message names the size an axis gives.
PHRASE = {"length": "the length", "rows": "the number of rows", "columns": "the number of columns"}


class Arguments:
    """The parameters of one generated function and its dimensions.

    ``pnames``: each parameter's identifier; ``binding``: the argument axis that gives each dimension symbol (its
    first whole use); ``checks``: every other use, to check; ``fixed``: dimensions given as constants (mpmath's
    ``dims=``); ``keywords``: dimensions no argument fixes, claimed as keyword-only parameters when the code first
    needs them (:meth:`ident`), in that order.
    """

    def __init__(self, params: Sequence[Expr], names: Names, fixed: Mapping[sympy.Symbol, int] | None = None,
                 outputs: Sequence[Expr] = ()) -> None:
        self.params = list(params)
        self.names = names
        self.fixed = dict(fixed or {})
        binding, checks = dim_bindings(self.params)
        # the dimensions of ``outputs`` that may become keywords claim their own names before the parameters do,
        # so that the keyword is the dimension's name (a parameter is positional: renaming it is invisible)
        dims = {d for e in iter_nodes(outputs) for side in e.shape for d in side.free_symbols}
        self._keyword_names = {d: names.claim(d.name) for d in sorted(dims, key=lambda d: d.name)
                               if d not in binding and d not in self.fixed}
        self.pnames = parameter_names(self.params, names)
        self.binding = {d: u for d, u in binding.items() if d not in self.fixed}
        self.checks = checks + [u for d, u in binding.items() if d in self.fixed]  # a fixed size is checked
        self.dim_names: dict[sympy.Symbol, str] = {}
        for d in sorted(self.fixed, key=lambda s: s.name):
            self.dim_names[d] = names.claim(d.name)
        for d in self.binding:
            self.dim_names[d] = names.claim(d.name)
        self.keywords: dict[sympy.Symbol, str] = {}

    # -- dimensions --
    def ident(self, d: sympy.Symbol) -> str:
        """The identifier of the dimension ``d``: bound from an argument, fixed, or a keyword parameter."""
        name = self.dim_names.get(d)
        if name is None:
            name = self._keyword_names.get(d) or self.names.claim(d.name)
            self.dim_names[d] = self.keywords[d] = name
        return name

    def dim_code(self, d: sympy.Expr) -> str:
        """A dimension as Python source: ``3``, ``n``, ``(2*n)``."""
        if d.is_Integer:
            return str(int(d))
        if isinstance(d, sympy.Symbol):
            return self.ident(d)
        syms = sorted(d.free_symbols, key=lambda s: s.name)
        return f"({pycode(d.xreplace({s: sympy.Symbol(self.ident(s)) for s in syms}))})"

    def known(self, d: sympy.Expr) -> bool:
        """Whether every symbol of ``d`` already has an identifier (a check on it needs no new keyword)."""
        return bool(d.free_symbols <= set(self.dim_names))

    def keyword_names(self) -> dict[str, str]:
        """Dimension name → identifier of the keyword parameters."""
        return {d.name: v for d, v in self.keywords.items()}

    # -- the signature --
    def signature(self) -> str:
        """``A, x, *, n``: the parameters, then the keyword-only dimensions."""
        parts = [self.pnames[p] for p in self.params]
        if self.keywords:
            parts += ["*"] + list(self.keywords.values())
        return ", ".join(parts)

    def uses(self, p: Expr) -> list[DimUse]:
        """The sizes the shape of ``p`` fixes, on the axes of its natural array."""
        return dim_uses(p)

    def is_binding(self, use: DimUse) -> bool:
        """Whether ``use`` is where its dimension's size is read."""
        return isinstance(use.dim, sympy.Symbol) and self.binding.get(use.dim) == use

    def source_of(self, d: sympy.Symbol) -> str:
        """Where the size of ``d`` comes from, for a message: ``the number of rows of argument 'A'``."""
        use = self.binding.get(d)
        return f"{PHRASE[use.what]} of argument {use.param.name!r}" if use is not None else ""


def call_with_dims(fn_name: str, keywords: Mapping[str, str], dims: Mapping[str, object]) -> dict[str, object]:
    """The keyword arguments for the generated function from ``dims`` (dimension name → size): every keyword
    dimension must be given, and no other."""
    unknown = sorted(set(dims) - set(keywords))
    if unknown:
        takes = ", ".join(keywords) if keywords else "none"
        raise ArgumentError(f"{fn_name}: unexpected keyword {unknown[0]!r}: the dimensions it takes as keywords "
                            f"are {takes}")
    missing = [d for d in keywords if d not in dims]
    if missing:
        raise ArgumentError(f"{fn_name}: missing the size of dimension {missing[0]}, which no argument's shape "
                            f"gives: pass it as a keyword, {missing[0]}=...")
    return {keywords[d]: v for d, v in dims.items()}


__all__ = ["Arguments", "PHRASE", "call_with_dims"]
