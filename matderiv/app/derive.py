"""Deriving, certifying and assembling numpy code: the work the ``matderiv`` command, its demo and its table
share.

A :class:`Derivation` is an expression in the text language with the symbols to differentiate by and an optional
seed; :func:`derive` makes one, :func:`certify` checks it with :func:`matderiv.check` and keeps the
:class:`~matderiv.CheckReport`, whose :meth:`~matderiv.CheckReport.summary` is the line every command prints.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..api import CheckReport, __version__, check, grad, latex_equation, matmul, numpy_code, parse, symbol, to_text, vjp
from ..core.errors import ArgumentError, DerivativeError, MatderivError
from ..core.expr import Expr, check_name, fmt_shape
from ..lang import Kind, parse_kinds
from ..lang.infer import defaults_note
from ..lang.printer import LanguagePrinter, declaration

PROG = "matderiv"  # the command's name, in messages
WHERE = re.compile(r"\bwhere\b")
Out = Callable[[str], None]  # where a command writes its lines


@dataclass
class Derivation:
    """An expression, the symbols to differentiate by, an optional seed, the derived formulas, certificates."""

    source: str                     # the text as given, with its where clause
    f: Expr
    wrt: list[Expr]
    seed: Expr | None = None
    derivs: list[Expr] = field(default_factory=list)
    args: list[Expr] = field(default_factory=list)   # f's symbols, then the seed's, in order of appearance
    report: CheckReport | None = None  # the certificate (one for all variables), once certified
    seed_text: str | None = None    # the seed as given
    kinds: dict[str, Kind] = field(default_factory=dict)  # how each symbol's kind was decided (md.lang.parse_kinds)

    @property
    def text(self) -> str:
        return to_text(self.f)

    @property
    def f_args(self) -> list[Expr]:
        return [a for a in self.args if a in self.f.free_symbols]

    def equation(self, i: int) -> str:
        return latex_equation(self.f, self.wrt[i], seed=self.seed)

    def lhs(self, i: int, f: str = "f") -> str:
        """``df/dX`` or ``d<G, f>/dX``."""
        w = self.wrt[i].name
        return f"d{f}/d{w}" if self.seed is None else f"d<{show(self.seed)}, {f}>/d{w}"


def show(e: Expr) -> str:
    """``e`` in the text language for reading, without a where clause (the shapes are printed apart)."""
    return LanguagePrinter().doprint(e)


def with_where(text: str, where: str | None) -> str:
    """``text`` with the declarations ``where`` added to its where clause (or as a new one)."""
    if not where or not where.strip():
        return text
    return f"{text}, {where}" if WHERE.search(text) else f"{text} where {where}"


def parse_with_seed(source: str, seed_text: str) -> tuple[Expr, Expr]:
    """The expression ``source`` and the seed ``seed_text`` as an expression of its shape.

    A new name becomes a symbol of the expression's shape. Anything else (``matrix(1)``, ``2*G``) is parsed on
    its own first (for its own errors) and then inside ``tr((F)'*(S))``, whose inference gives S F's shape.
    """
    f = parse(source)
    s = seed_text.strip()
    if s.isidentifier() and all(x.name != s for x in f.free_symbols):
        return f, symbol(check_name(s), *f.shape)
    try:
        alone = parse(s)
    except MatderivError as exc:
        raise type(exc)(f"in the seed: {exc}") from None
    if f.is_scalar:
        if not alone.is_scalar:
            raise ArgumentError(f"the seed {s!r} must be a scalar like {show(f)}, "
                                f"got {fmt_shape(alone.shape)}")
        return f, alone
    m = WHERE.search(source)
    body, where = (source[:m.start()], source[m.end():]) if m else (source, "")
    joint = f"tr(({body.strip()})'*({s}))" + (f" where {where.strip()}" if where.strip() else "")
    hint = " (a vector's seed of ones is vector(1))" if f.shape[1] == 1 else ""
    try:
        both = parse(joint)
    except MatderivError:
        raise ArgumentError(f"the seed {s!r} cannot have the shape {fmt_shape(f.shape)} of {show(f)}{hint}"
                            ) from None
    prod = both.args[0] if both.op == "trace" else None
    if prod is None or prod.op != "matmul" or prod.args[0].op != "transpose":  # pragma: no cover - defensive
        raise ArgumentError(f"cannot read the seed {s!r} as an expression of the shape of {show(f)}")
    f2, rest = prod.args[0].args[0], prod.args[1:]
    seed = rest[0] if len(rest) == 1 else matmul(*rest)
    if seed.shape != f2.shape:
        raise ArgumentError(f"the seed {s!r} must have the shape {fmt_shape(f2.shape)} of {show(f2)}{hint}, "
                            f"got {fmt_shape(seed.shape)}")
    return f2, seed


def order_symbols(exprs: Sequence[Expr], text: str) -> list[Expr]:
    """The symbols of ``exprs`` in order of their first appearance in ``text`` (then by name)."""
    syms: dict[str, Expr] = {}
    for e in exprs:
        for s in e.free_symbols:
            syms.setdefault(s.name, s)

    def pos(name: str) -> tuple[int, str]:
        m = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text)
        return (m.start() if m else len(text), name)
    return [syms[n] for n in sorted(syms, key=pos)]


def split_names(values: Sequence[str] | None) -> list[str]:
    """``--wrt X --wrt a,b`` → ``["X", "a", "b"]``."""
    out: list[str] = []
    for v in values or ():
        out.extend(n.strip() for n in v.split(",") if n.strip())
    return out


def derive(text: str, wrt: Sequence[str] | None = None, where: str | None = None,
           seed: str | None = None) -> Derivation:
    """Parse ``text``, take the variables ``wrt`` (default: every symbol) and the seed, and derive."""
    source = with_where(text, where)
    kinds = parse_kinds(source)[1]
    if seed is None:
        f, s = parse(source), None
    else:
        f, s = parse_with_seed(source, seed)
    f_syms = order_symbols([f], source)
    names = split_names(wrt) or [a.name for a in f_syms]
    by_name = {a.name: a for a in f_syms}
    for n in names:
        if n not in by_name:
            known = ", ".join(by_name) or "none"
            raise ArgumentError(f"--wrt {n}: {show(f)} has no symbol {n!r} (its symbols: {known})")
    if not names:
        raise DerivativeError(f"{show(f)} has no symbols to differentiate by")
    if len(set(names)) != len(names):
        raise ArgumentError(f"--wrt names a symbol twice: {', '.join(names)}")
    if s is None and not f.is_scalar:
        raise DerivativeError(f"{show(f)} is {fmt_shape(f.shape)}, not a scalar: for its Jacobian use "
                              f"{PROG} jacobian {shell_quote(text)} --wrt {names[0]}; for a VJP give a seed of its "
                              "shape, e.g. --seed G (a new symbol) or --seed 'matrix(1)' (all ones)"
                              + defaults_note(kinds, [a.name for a in f_syms]))
    ws = [by_name[n] for n in names]
    args = order_symbols([f] + ([s] if s is not None else []), source + " " + (seed or ""))
    out = grad(f, ws) if s is None else vjp(f, ws, s)
    return Derivation(source, f, ws, s, list(out), args, seed_text=seed, kinds=kinds)  # type: ignore[arg-type]


def certify(d: Derivation, dps: int, rng: int, at: dict[str, Any] | None = None,
            candidates: Sequence[Expr] | None = None) -> bool:
    """:func:`matderiv.check` every variable of ``d`` at one random point (or ``at``): matderiv's derivatives,
    or the hand-written ``candidates`` (one per variable). The report lands in ``d.report``."""
    given = {} if candidates is None else {"grad": list(candidates)}
    d.report = check(d.f, list(d.wrt), at=at, dps=dps, rng=rng, seed=d.seed, **given)
    return bool(d.report.ok)


def grad_name(d: Derivation, base: str | None = None) -> str:
    """The generated function's name: ``grad_X_b`` (``vjp_…`` with a seed), or ``grad_<base>``."""
    kind = "grad" if d.seed is None else "vjp"
    if base:
        return f"{kind}_{base}"
    return f"{kind}_" + "_".join(w.name for w in d.wrt)


def numpy_source(exprs: Sequence[Expr], args: Sequence[Expr], name: str) -> str:
    """The source of the numpy function ``name(*args)`` returning ``exprs`` (a tuple when there are several)."""
    return numpy_code(exprs[0] if len(exprs) == 1 else list(exprs), args=list(args), name=name).strip("\n") + "\n"


def merge_modules(sources: Sequence[str]) -> str:
    """One module from function sources: their import lines once, at the top, then the functions."""
    imports: list[str] = []
    bodies: list[str] = []
    for src in sources:
        lines = src.strip("\n").splitlines()
        i = 0
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(("import ", "from "))):
            if lines[i].strip() and lines[i] not in imports:
                imports.append(lines[i])
            i += 1
        bodies.append("\n".join(lines[i:]).strip("\n"))
    return "\n".join(imports) + "\n\n\n" + "\n\n\n".join(bodies) + "\n"


def shapes_line(args: Sequence[Expr], kinds: dict[str, Kind] | None = None) -> str:
    """``a: n×1, X: n×m, b: m×1``; with ``kinds``, a note where a default or a use decided a kind other than the
    name's case gives: ``mu: 1×1 (scalar, the default for Greek names; write `where mu: vector` to change it)``,
    ``alpha: n×1 (a vector: transposed in `alpha'`)``."""
    def one(a: Expr) -> str:
        k = (kinds or {}).get(a.name)
        note = k.note(a.name) if k is not None else ""
        return f"{a.name}: {fmt_shape(a.shape)}" + (f" ({note})" if note else "")
    return ", ".join(one(a) for a in args)


def parse_candidate(d: Derivation, w: Expr, text: str) -> Expr:
    """A hand-written derivative for the variable ``w``, parsed with the expression's symbols and shapes."""
    syms = {s.name: s for s in d.args}
    used = set(re.findall(r"[A-Za-z_]\w*", text))
    decls = [declaration(s) for s in d.args if s.name in used or (s == w and not w.is_scalar)]
    where = " where " + ", ".join(decls) if decls else ""
    try:
        if w.is_scalar:
            g = parse(text + where)
        else:
            both = parse(f"tr(({w.name})'*({text})){where}")
            rest = both.args[0].args[1:]
            g = rest[0] if len(rest) == 1 else matmul(*rest)
    except MatderivError as exc:
        try:  # a formula that parses alone but cannot have w's shape: say so, not what the shape trick tripped on
            own = [declaration(s) for s in d.args if s.name in used]
            alone = parse(text + (" where " + ", ".join(own) if own else ""))
        except MatderivError:
            alone = None
        if alone is not None:
            raise ArgumentError(f"--grad {text!r} must have {w.name}'s shape {fmt_shape(w.shape)}, "
                                f"got {fmt_shape(alone.shape)}") from None
        raise type(exc)(f"--grad {text!r} (for {w.name}, {fmt_shape(w.shape)}): "
                        f"{getattr(exc, 'reason', exc)}") from None
    extra = sorted(s.name for s in g.free_symbols if s.name not in syms)
    if extra:
        raise ArgumentError(f"--grad {text!r} uses {', '.join(extra)}, which the expression does not have")
    if g.shape != w.shape:
        raise ArgumentError(f"--grad {text!r} must have {w.name}'s shape {fmt_shape(w.shape)}, "
                            f"got {fmt_shape(g.shape)}")
    return g


def module_source(d: Derivation, name: str) -> str:
    """A module with ``name`` (the expression) and ``grad_name`` (its gradient or VJP), importing only numpy."""
    gname = grad_name(d, name)
    wrt = ",".join(w.name for w in d.wrt)
    cmd = f"matderiv code {shell_quote(d.source)} --wrt {wrt}"
    if d.seed is not None:
        cmd += f" --seed {shell_quote(d.seed_text or show(d.seed))}"
    if name != "f":
        cmd += f" --name {name}"
    doc = [f'"""Generated by matderiv {__version__}: {cmd}', "",
           f"{name}({', '.join(a.name for a in d.f_args)}) = {d.text}"]
    for i, g in enumerate(d.derivs):
        doc.append(f"{d.lhs(i, name)} = {show(g)}")
    doc += ["", f"{gname}({', '.join(a.name for a in d.args)}) returns "
            + ("the gradient" if len(d.wrt) == 1 else f"the tuple of derivatives ({wrt})")
            + ". Shapes: " + shapes_line(d.args) + "; vectors are 1-D arrays, scalars floats.", '"""']
    body = merge_modules([numpy_source([d.f], d.f_args, name), numpy_source(d.derivs, d.args, gname)])
    return "\n".join(doc) + "\n" + body


def shell_quote(s: str) -> str:
    """``s`` quoted for a POSIX shell (double quotes when that needs no escapes)."""
    if re.fullmatch(r"[\w.,:=/+-]+", s):
        return s
    if not re.search(r"[\"$`\\!]", s):
        return f'"{s}"'
    return "'" + s.replace("'", "'\\''") + "'"


# ---- Jacobians and Hessians -------------------------------------------------------------------------------------
@dataclass
class SecondDerivation:
    """``matderiv jacobian`` / ``matderiv hessian``: an expression, one variable, the matrix, its certificate."""

    kind: str                       # "jacobian" or "hessian"
    source: str
    f: Expr
    wrt: Expr
    matrix: Expr
    args: list[Expr]
    report: Any = None              # a matderiv.SecondReport once certified
    kinds: dict[str, Kind] = field(default_factory=dict)  # how each symbol's kind was decided

    @property
    def text(self) -> str:
        return to_text(self.f)

    def equation(self) -> str:
        """∂F/∂xᵀ = J, ∂vec F/∂(vec X)ᵀ = J (numerator layout), ∂²f/∂x∂xᵀ = H."""
        from ..api import latex
        x, f = latex(self.wrt), latex(self.f)
        vec_x = self.wrt.shape[1] != 1
        dx = rf"\partial \operatorname{{vec}}\left({x}\right)^{{\top}}" if vec_x else rf"\partial {x}^{{\top}}"
        if self.kind == "hessian":
            dx1 = rf"\partial \operatorname{{vec}}\left({x}\right)" if vec_x else rf"\partial {x}"
            lhs = rf"\frac{{\partial^{{2}}}}{{{dx1}\, {dx}}} \left( {f} \right)"
        else:
            num = rf"\partial \operatorname{{vec}}\left({f}\right)" if self.f.shape[1] != 1 else rf"\partial \left({f}\right)"
            lhs = rf"\frac{{{num}}}{{{dx}}}"
        return f"{lhs} = {latex(self.matrix)}"


def text_of(e: Expr) -> str:
    """``e`` in the text language, or its str() form where the language cannot write it (K, vec)."""
    try:
        return to_text(e)
    except ArgumentError:
        return str(e)


def derive_second(kind: str, text: str, wrt: Sequence[str] | None, where: str | None = None) -> SecondDerivation:
    """Parse ``text`` and take its Jacobian or Hessian with respect to the one variable ``wrt``."""
    from ..api import hessian, jacobian
    source = with_where(text, where)
    kinds = parse_kinds(source)[1]
    f = parse(source)
    f_syms = order_symbols([f], source)
    given = split_names(wrt)
    names = given or ([f_syms[0].name] if len(f_syms) == 1 else [])
    known = ", ".join(a.name for a in f_syms) or "none"
    if len(names) > 1:
        raise ArgumentError(f"{PROG} {kind} takes one variable, but --wrt names {len(names)} ({', '.join(names)}): "
                            f"give one, e.g. --wrt {names[0]}, and run it once per variable")
    if len(names) != 1:
        raise ArgumentError(f"{PROG} {kind} takes one variable: give --wrt X (the symbols of {show(f)}: {known})")
    if kind == "hessian" and not f.is_scalar:
        raise DerivativeError(f"{show(f)} is {fmt_shape(f.shape)}, not a scalar, so it has no Hessian: for its "
                              f"Jacobian use {PROG} jacobian {shell_quote(text)} --wrt {names[0]}"
                              + defaults_note(kinds, [a.name for a in f_syms]))
    by_name = {a.name: a for a in f_syms}
    if names[0] not in by_name:
        raise ArgumentError(f"--wrt {names[0]}: {show(f)} has no symbol {names[0]!r} "
                            f"(its symbols: {', '.join(by_name) or 'none'})")
    x = by_name[names[0]]
    m = hessian(f, x) if kind == "hessian" else jacobian(f, x)
    return SecondDerivation(kind, source, f, x, m, order_symbols([f], source), kinds=kinds)
