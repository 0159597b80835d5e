"""The printer base: dispatch on the op name to ``_print_<op>``, falling back to the op's own print form."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..core.expr import OPS, Expr

# Binding strength, loosest first; a child binding looser than its parent's slot gets parentheses.
ADD, MUL, NEG, POW, POSTFIX, ATOM = 10, 20, 30, 40, 50, 60


def coefficient(e: Expr) -> tuple[float, Expr | None]:
    """Split ``e`` into a numeric coefficient (the product of its leading numbers) and the rest (``None`` when
    e is a number)."""
    if e.op == "const":
        return e.params[0], None
    if e.op == "mul" and e.args[0].op == "const":
        from ..ops.elementwise import mul
        k, c = 0, 1
        while k < len(e.args) and e.args[k].op == "const":
            c, k = c * e.args[k].params[0], k + 1
        rest = e.args[k:]
        if not rest:
            return c, None
        return c, rest[0] if len(rest) == 1 else mul(*rest)
    return 1, e


def fmt_number(v: Any) -> str:
    """A number as Python source: ``2``, ``0.5``, ``1e-300`` (a decimal a float prints exactly), else ``(1/3)``
    (a fraction, parenthesised so it binds as one)."""
    if isinstance(v, Fraction):
        try:
            r = repr(float(v))
        except OverflowError:
            r = ""
        return r if r and Fraction(r) == v else f"({v.numerator}/{v.denominator})"
    if isinstance(v, int) and abs(v) >= 10**16:  # 1.5e+20 (as written); beyond a float's range: inf
        try:
            return repr(float(v)) if float(v) == v else str(v)
        except OverflowError:
            return "1e999" if v > 0 else "-1e999"
    return repr(v) if isinstance(v, float) else str(v)


class Printer:
    """Walks an expression; ``_print_<op>`` methods return ``(string, binding strength)``."""

    def __init__(self) -> None:
        self._memo: dict[Expr, tuple[str, int]] = {}

    def doprint(self, e: Expr) -> str:
        if e not in self._memo:  # children first (stopping at printed ones), so that emit never recurses deeply
            stack: list[tuple[Expr, bool]] = [(e, False)]
            while stack:
                node, ready = stack.pop()
                if ready:
                    self.emit(node)
                elif node not in self._memo:
                    stack.append((node, True))
                    stack.extend((a, False) for a in reversed(node.args) if a not in self._memo)
        return self.emit(e)[0]

    def emit(self, e: Expr) -> tuple[str, int]:
        r = self._memo.get(e)
        if r is None:
            method = getattr(self, f"_print_{e.op}", None)
            r = method(e) if method is not None else self._print_function(e)
            self._memo[e] = r
        return r

    def wrap(self, e: Expr, level: int) -> str:
        """``e`` printed, parenthesised when it binds looser than ``level``."""
        s, p = self.emit(e)
        return self.paren(s) if p < level else s

    def paren(self, s: str) -> str:
        return f"({s})"

    def form(self, e: Expr) -> Any:
        return OPS[e.op].text

    times = " * "  # between a number and what it scales

    def number(self, v: Any) -> str:
        return fmt_number(v)

    def _print_add(self, e: Expr) -> tuple[str, int]:
        """A + B − c C: a negative coefficient becomes a minus sign."""
        out = ""
        for i, t in enumerate(e.args):
            c, rest = coefficient(t)
            if c < 0 and i > 0:
                out += " - " + (self.number(-c) if rest is None else self._scaled(-c, rest))
            else:
                s = self.wrap(t, ADD + 1) if i else self.emit(t)[0]
                out += f" + {s}" if i else s
        return out, ADD

    def _scaled(self, c: Any, rest: Expr) -> str:
        s = self.wrap(rest, MUL if rest.op in ("mul", "matmul") else MUL + 1)
        return s if c == 1 else f"{self.number(c)}{self.times}{s}"

    def _print_function(self, e: Expr) -> tuple[str, int]:
        """The op's own print form: a template over the printed arguments (``"trace({0})"``), or a function of
        the node and the printed arguments for forms that show parameters (a dimension ``n``, an axis)."""
        template = self.form(e)
        if not template:
            raise NotImplementedError(f"{type(self).__name__} cannot print '{e.op}'")
        args = [self.emit(a)[0] for a in e.args]
        if callable(template):
            return template(e, *args), ATOM
        return template.format(*args), ATOM
