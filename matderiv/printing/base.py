"""The printer base: dispatch on the op name to ``_print_<op>``, falling back to the op's own print form."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Sequence, Union

from ..core.expr import OPS, Expr

# Binding strength, loosest first; a child binding looser than its parent's slot gets parentheses.
ADD, MUL, NEG, POW, POSTFIX, ATOM = 10, 20, 30, 40, 50, 60


# ---- products as a paper writes them ------------------------------------------------------------------------------
Number = Any  # int | Fraction (numbers in the IR are exact)


@dataclass
class Chain:
    """A matrix product A B C (its factors non-scalar)."""

    factors: list[Expr | Hadamard]


@dataclass
class Hadamard:
    """A ⊙ B ⊘ C^{∘p}: elementwise factors and divisors ``(C, p)`` with p > 0."""

    factors: list[Expr | Chain]
    divisors: list[tuple[Expr, Number]]


Core = Union[Expr, Chain, Hadamard]


@dataclass
class Product:
    """c · s₁ ⋯ s_k / (d₁^{p₁} ⋯) · core: a product with its numbers and scalar (1×1) factors pulled to the front
    from wherever they stand (scalar multiplication commutes with ⊙ and with matrix products), so that a printer
    writes ½ xᵀAx, never (½ xᵀ) A x. ``scalars`` are 1×1 factors, ``den`` 1×1 denominators ``(d, p)``, ``core`` the
    non-scalar rest (None for a scalar product)."""

    coeff: Number = 1
    scalars: list[Expr | Chain] = field(default_factory=list)
    den: list[tuple[Expr, Number]] = field(default_factory=list)
    core: Core | None = None
    exact: bool = False
    opened: dict[Expr, bool] = field(default_factory=dict, repr=False, compare=False)  # see _opens


ChainOf = Callable[[Expr], "Sequence[Expr] | None"]


def _no_chain(e: Expr) -> Sequence[Expr] | None:
    return None


def split_product(e: Expr, chain_of: ChainOf = _no_chain, exact: bool = False,
                  opened: dict[Expr, bool] | None = None) -> Product:
    """``e`` (a product: mul, matmul, or an op ``chain_of`` writes as a matrix product, such as solve(A, B) =
    A⁻¹B for LaTeX) as a :class:`Product`. The value is unchanged: c (A (s B)) = c s (A B), (s A) ⊙ B = s (A ⊙ B).
    With ``exact``, a number's power joins the coefficient (x/2 = ½ x); else it stays a denominator. ``opened``
    caches which nested products open (a printer passes its own, for the same ``chain_of``, across calls)."""
    p = Product(exact=exact, opened={} if opened is None else opened)
    if e.is_scalar:
        _scalar(e, p, chain_of, 0)
    else:
        p.core = _collect(e, p, chain_of, 0)
    if len(p.scalars) > 1:
        bases = [_base(f) for f in p.scalars]
        merged = _powers(bases)
        if merged is not bases:
            p.scalars = [b if q == 1 else _power(b, q) for b, q in merged]
    p.den = _powers(p.den)
    return p


def _base(f: Expr | Chain) -> tuple[Expr | Chain, Number]:
    """A 1×1 factor as (base, exponent): t² as (t, 2), the product xᵀy (a Chain of expressions) as its matmul."""
    if isinstance(f, Chain) and all(isinstance(a, Expr) for a in f.factors):
        from ..ops.linalg import matmul
        return matmul(*f.factors), 1  # type: ignore[arg-type]
    if isinstance(f, Expr) and f.op == "power":
        return f.args[0], f.params[0]
    return f, 1


def _powers(factors: list[tuple[Any, Number]]) -> list[tuple[Any, Number]]:
    """Equal bases of 1×1 factors as one power, in the order they first stand: t t = t², t t² = t³,
    (xᵀy)(xᵀy) = (xᵀy)² (scalars commute; their exponents add)."""
    out: dict[Any, Number] = {}
    for b, q in factors:
        if not isinstance(b, Expr):
            return factors  # (a product with a ⊙ inside: left as it stands)
        out[b] = out.get(b, 0) + q
    return list(out.items()) if len(out) < len(factors) else factors


def _power(b: Expr, q: Number) -> Expr:
    from ..ops.elementwise import power
    return power(b, q)


#: How deep products nested in products are opened; deeper ones stay factors (printed on their own), so that
#: printing a deep composition neither recurses deeply nor takes quadratic time.
MAX_DEPTH = 16


def _opens(f: Expr, p: Product, chain_of: ChainOf, depth: int) -> bool:
    """Whether the product ``f`` nested in a product is opened: when it holds a number or a scalar factor to pull
    out (else it prints the same as a factor, and reading it once is enough). Cached in ``p.opened``, so that
    shared subexpressions are read once."""
    if depth > MAX_DEPTH or not _is_product(f, chain_of):
        return False
    r = p.opened.get(f)
    if r is None:
        factors = f.args if f.op in ("mul", "matmul") else chain_of(f) or ()
        r = any(a.is_scalar or _opens(a, p, chain_of, depth + 1) for a in factors)
        p.opened[f] = r
    return r


def _scalar(f: Expr, p: Product, chain_of: ChainOf, depth: int) -> None:
    """Move the 1×1 factor ``f`` into ``p``: a number into the coefficient, a negative power into the denominator,
    the factors of a product one by one."""
    if f.op == "const":
        p.coeff = p.coeff * f.params[0]
    elif (p.exact and f.op == "power" and f.args[0].op == "const" and float(f.params[0]).is_integer()
          and f.args[0].params[0]):
        p.coeff = p.coeff * Fraction(f.args[0].params[0]) ** int(f.params[0])  # x/2 = ½ x
    elif f.op == "power" and f.params[0] < 0:
        b, q = f.args[0], -f.params[0]
        if b.op == "mul" and float(q).is_integer() and not any(a.op == "const" for a in b.args):
            p.den.extend((a, q) for a in b.args)  # 1/(s t) = 1/s · 1/t, so that t t is t² there too
        else:
            p.den.append((b, q))
    elif depth > MAX_DEPTH:
        p.scalars.append(f)
    elif f.op == "mul":
        for a in f.args:
            _scalar(a, p, chain_of, depth + 1)
    elif f.op == "matmul" or chain_of(f) is not None:
        r = _collect(f, p, chain_of, depth + 1)
        if r is not None:
            p.scalars.append(r if isinstance(r, (Expr, Chain)) else Chain([r]))
    else:
        p.scalars.append(f)


def _collect(e: Expr, p: Product, chain_of: ChainOf, depth: int) -> Core | None:
    """The non-scalar rest of the product ``e``, its numbers and scalar factors moved into ``p``."""
    if depth > MAX_DEPTH:
        return e
    chain = e.args if e.op == "matmul" else chain_of(e)
    if chain is not None:
        pieces: list[Expr | Hadamard] = []
        for f in chain:
            if f.is_scalar:
                _scalar(f, p, chain_of, depth + 1)
                continue
            r = _collect(f, p, chain_of, depth + 1) if _opens(f, p, chain_of, depth) else f
            if isinstance(r, Chain):
                pieces.extend(r.factors)
            elif r is not None:
                pieces.append(r)
        return None if not pieces else pieces[0] if len(pieces) == 1 else Chain(pieces)
    if e.op != "mul":
        return e
    items: list[Expr | Chain] = []
    divisors: list[tuple[Expr, Number]] = []
    for a in e.args:
        if a.is_scalar:
            _scalar(a, p, chain_of, depth + 1)
        elif a.op == "power" and a.params[0] < 0:
            divisors.append((a.args[0], -a.params[0]))
        elif _opens(a, p, chain_of, depth):
            r = _collect(a, p, chain_of, depth + 1)
            if isinstance(r, Hadamard):
                items.extend(r.factors)
                divisors.extend(r.divisors)
            elif r is not None:
                items.append(r)
        else:
            items.append(a)
    if not divisors and len(items) == 1:
        return items[0]
    return Hadamard(items, divisors) if items or divisors else None


def _is_product(e: Expr, chain_of: ChainOf) -> bool:
    return e.op in ("mul", "matmul") or chain_of(e) is not None


def scalar_rank(e: Expr | Chain, level: int) -> int:
    """The order of scalar factors in front of a product: names first (α β), then other atoms (tr X, ‖x‖), then
    powers and transposes, then products (xᵀy), which stand last so that they need no brackets."""
    if isinstance(e, Chain) or level <= MUL:
        return 4 if level == MUL else 3
    if e.op in ("symbol", "dimension"):
        return 0
    return 1 if level >= ATOM else 2


def decimal_digits(v: Any) -> tuple[str, int] | None:
    """The positive number ``v`` as the exact decimal d₁.d₂⋯dₙ · 10ᵉ: ``(digits, e)`` with no trailing zero in
    ``digits`` (``0.025`` → ``("25", -2)``, ``1500`` → ``("15", 3)``), in integer arithmetic (no float, so that
    10⁶⁰⁰ and 5·10⁻³²⁴ are exact); None when v is no finite decimal (its denominator has a prime other than 2, 5)."""
    q = Fraction(v)
    p, d = q.numerator, q.denominator
    twos = fives = 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return None
    k = max(twos, fives)  # v = m / 10^k with m an integer
    m = p * 10**k // q.denominator
    while m % 10**16 == 0:
        m, k = m // 10**16, k - 16
    while m % 10 == 0:
        m, k = m // 10, k - 1
    digits = str(Decimal(m))  # (str(int) refuses more than 4300 digits)
    return digits, len(digits) - 1 - k


def decimal_text(digits: str, e: int, plain: bool) -> str:
    """d₁.d₂⋯ · 10ᵉ written out (``plain``: ``0.025``, ``1500``) or as the mantissa ``2.5`` and the exponent."""
    if not plain:
        return digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    if e < 0:
        return "0." + "0" * (-e - 1) + digits
    if e + 1 >= len(digits):
        return digits + "0" * (e + 1 - len(digits))
    return digits[:e + 1] + "." + digits[e + 1:]


def fmt_number(v: Any) -> str:
    """A number as Python source: ``2``, ``0.5``, ``1e-300``, ``1.7976931348623157e308`` (a finite decimal, written
    exactly, with an exponent where Python's repr would use one, below 10⁻⁴ or from 10¹⁶), else ``(1/3)`` (a
    fraction, parenthesised so it binds as one)."""
    if v < 0:
        s = fmt_number(-v)
        return f"(-{s[1:]}" if s.startswith("(") else "-" + s
    if isinstance(v, float):
        v = Fraction(repr(v))
    if isinstance(v, Fraction) and v.denominator == 1:
        v = v.numerator
    if isinstance(v, int) and v < 10**16:
        return str(v)
    dec = decimal_digits(v)
    if dec is None:
        return f"({v.numerator}/{v.denominator})"
    digits, e = dec
    if -4 <= e < 16:
        return decimal_text(digits, e, plain=True)
    return f"{decimal_text(digits, e, plain=False)}e{e}"


class Printer:
    """Walks an expression; ``_print_<op>`` methods return ``(string, binding strength)``."""

    def __init__(self) -> None:
        self._memo: dict[Expr, tuple[str, int]] = {}
        self._opened: dict[Expr, bool] = {}  # split_product's cache, for this printer's chain_of

    def clear_if_large(self, limit: int = 50_000) -> None:
        """Forget what was printed once the memo holds ``limit`` expressions (a module-level printer lives long)."""
        if len(self._memo) > limit:
            self._memo.clear()
            self._opened.clear()

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

    def _print_add(self, e: Expr) -> tuple[str, int]:
        """A + B − c C: a term printed with a leading minus sign is subtracted."""
        out = self.emit(e.args[0])[0]
        for t in e.args[1:]:
            s, level = self.emit(t)
            if s.startswith("-") and level > ADD:
                out += f" - {s[1:]}"
            else:
                out += f" + {self.paren(s) if level <= ADD else s}"
        return out, ADD

    def form(self, e: Expr) -> Any:
        return OPS[e.op].text

    times = " * "  # between a number and what it scales

    def number(self, v: Any) -> str:
        return fmt_number(v)

    # -- products: the parts of split_product, with the printer's tokens --------------------------------------------
    odot = " * "  # between elementwise factors

    def _core(self, c: Core) -> tuple[str, int]:
        if isinstance(c, Expr):
            return self.emit(c)
        if isinstance(c, Chain):
            return self._chain(c), MUL
        return self._hadamard(c), MUL

    def _chain(self, c: Chain) -> str:
        raise NotImplementedError

    def _hadamard(self, h: Hadamard) -> str:
        """A ⊙ B ⊘ C: the factors joined by :attr:`odot`, each divisor by :meth:`divided`; with no factor, what
        :meth:`reciprocal` makes of the divisors."""
        last = len(h.factors) - 1
        items = [self.paren(self._chain(f)) if isinstance(f, Chain) else
                 self.paren(self.emit(f)[0]) if self.bracketed(f, followed=i < last or bool(h.divisors)) else
                 self.wrap(f, MUL + 1) for i, f in enumerate(h.factors)]
        divs = list(h.divisors)
        if not items:
            items, divs = self.reciprocal(divs)
        s = self.odot.join(items)
        for b, q in divs:
            s += self.divided(b, q)
        return s

    def reciprocal(self, divs: list[tuple[Expr, Number]]) -> tuple[list[str], list[tuple[Expr, Number]]]:
        """The factors and divisors of a quotient with no factor: 1 / C."""
        return ["1"], divs

    def divided(self, b: Expr, q: Number) -> str:
        """`` / C`` (`` / C**q``)."""
        return f" / {self.wrap(b, POW + 1)}" + ("" if q == 1 else f"**{self.number(q)}")

    def bracketed(self, f: Expr, followed: bool) -> bool:
        """Whether the factor ``f`` of a product is bracketed although it binds tightly enough (``followed``: a
        factor stands after it). Never here; the differential printer brackets dX when a factor follows it, so
        that d(X⁻¹) = −X⁻¹ (dX) X⁻¹ is not read as −X⁻¹ d(X X⁻¹)."""
        return False

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
