r"""Differentials in Magnus–Neudecker notation: ``\mathrm{d}X`` for the symbol dX, in parentheses where a factor
follows it in a product or it is transposed, so that d(X⁻¹) = −X⁻¹ (dX) X⁻¹ cannot be read as −X⁻¹ d(X X⁻¹)."""
from __future__ import annotations

from typing import Sequence

from ..ad import Wrt, differential, differential_symbol, resolve
from ..core.expr import Expr
from ..ops.base import as_expr
from .base import ATOM
from .latex import LatexPrinter, latex_name

__all__ = ["DifferentialLatexPrinter", "latex_differential", "latex_d"]


class DifferentialLatexPrinter(LatexPrinter):
    """LaTeX with the symbols ``dsyms`` (d-symbol → the variable it is the differential of) printed as dX."""

    def __init__(self, dsyms: dict[Expr, Expr]) -> None:
        super().__init__()
        self.dsyms = dsyms

    def _print_symbol(self, e: Expr) -> tuple[str, int]:
        w = self.dsyms.get(e)
        return (rf"\mathrm{{d}}{latex_name(w.name)}", ATOM) if w is not None else super()._print_symbol(e)

    def bracketed(self, f: Expr, followed: bool) -> bool:
        """dX in brackets where a factor follows it or it is a base ((dX)ᵀ, (dX)²): −X⁻¹ (dX) X⁻¹, not d(X X⁻¹)."""
        return followed and f in self.dsyms


def latex_d(e: Expr, dsyms: dict[Expr, Expr]) -> str:
    """``e`` (an expression in d-symbols) as LaTeX."""
    return DifferentialLatexPrinter(dsyms).doprint(e)


def lhs_latex(f: Expr, printer: LatexPrinter) -> str:
    r"""``\mathrm{d}X``, ``\mathrm{d}\det\left(X\right)`` (a function's own delimiters suffice), else
    ``\mathrm{d}\left(X^{-1}\right)``."""
    s, p = printer.emit(f)
    if f.is_symbol or p == ATOM and s.startswith("\\") and s.endswith(("\\right)", "\\right|", "}")):
        return rf"\mathrm{{d}}{s}" if f.is_symbol else rf"\mathrm{{d}}\,{s}"
    return rf"\mathrm{{d}}{printer.paren(s)}"


def latex_differential(f: object, wrt: Wrt | Sequence[Wrt]) -> str:
    r"""dF = … in Magnus–Neudecker style, e.g. ``\mathrm{d}\left(X^{-1}\right) = -X^{-1} \left(\mathrm{d}X\right)
    X^{-1}``, ``\mathrm{d}\,\det\left(X\right) = \det\left(X\right) \operatorname{tr}\left(X^{-1} \mathrm{d}X\right)``,
    ``\mathrm{d}\left(x^{\top} A x\right) = x^{\top} \left(A + A^{\top}\right) \mathrm{d}x``."""
    f = as_expr(f, "the expression")
    ws = [resolve(f, w) for w in (wrt if isinstance(wrt, (list, tuple)) else [wrt])]
    d = differential(f, ws)
    printer = DifferentialLatexPrinter({differential_symbol(f, w): w for w in ws})
    return f"{lhs_latex(f, printer)} = {printer.doprint(d)}"
