"""The ``matderiv`` command: derive, print, generate and certify matrix derivatives from the shell.

Subcommands ``grad``, ``check``, ``latex``, ``code``, ``table`` and ``demo`` (``matderiv COMMAND --help``).
Expressions are written in the text language of :func:`matderiv.parse` (``a'*X*b``, ``norm2(A*x-y)^2``,
``x'*A*x where A: symmetric``). Exit status: 0 success, 1 a certificate failed, 2 bad usage or an error in the
expression (parse, shape, derivative), reported as one ``matderiv: error: ...`` message on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, NoReturn, Sequence

import matderiv as md

from ..check import fmt_digits
from ..codegen import numpy_code
from ..errors import ArgumentError, DerivativeError, MatderivError
from ..expr import Expr, check_name, fmt_shape
from ..printing.language import LanguagePrinter, declaration
from ..printing.where import name_shared

PROG = "matderiv"
LONG = 80  # a derivative whose text is longer is shown again with its repeated parts named
_WHERE = re.compile(r"\bwhere\b")
Out = Callable[[str], None]


# ---- deriving: the work every subcommand shares ------------------------------------------------------------------
@dataclass
class Derivation:
    """An expression, the symbols to differentiate by, an optional seed, the derived formulas, certificates."""

    source: str                     # the text as given, with its where clause
    f: Expr
    wrt: list[Expr]
    seed: Expr | None = None
    derivs: list[Expr] = field(default_factory=list)
    args: list[Expr] = field(default_factory=list)   # f's symbols, then the seed's, in order of appearance
    report: Any = None              # the md.check report (one for all variables), once certified
    seed_text: str | None = None    # the seed as given

    @property
    def text(self) -> str:
        return md.to_text(self.f)

    @property
    def f_args(self) -> list[Expr]:
        return [a for a in self.args if a in self.f.free_symbols]

    def equation(self, i: int) -> str:
        return md.latex_equation(self.f, self.wrt[i], seed=self.seed)

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
    return f"{text}, {where}" if _WHERE.search(text) else f"{text} where {where}"


def parse_with_seed(source: str, seed_text: str) -> tuple[Expr, Expr]:
    """The expression ``source`` and the seed ``seed_text`` as an expression of its shape.

    A new name becomes a symbol of the expression's shape. Anything else (``matrix(1)``, ``2*G``) is parsed on
    its own first (for its own errors) and then inside ``tr((F)'*(S))``, whose inference gives S F's shape.
    """
    f = md.parse(source)
    s = seed_text.strip()
    if s.isidentifier() and all(x.name != s for x in f.free_symbols):
        return f, md.symbol(check_name(s), *f.shape)
    try:
        alone = md.parse(s)
    except MatderivError as exc:
        raise type(exc)(f"in the seed: {exc}") from None
    if f.is_scalar:
        if not alone.is_scalar:
            raise ArgumentError(f"the seed {s!r} must be a scalar like {show(f)}, "
                                f"got {fmt_shape(alone.shape)}")
        return f, alone
    m = _WHERE.search(source)
    body, where = (source[:m.start()], source[m.end():]) if m else (source, "")
    joint = f"tr(({body.strip()})'*({s}))" + (f" where {where.strip()}" if where.strip() else "")
    hint = " (a vector's seed of ones is vector(1))" if f.shape[1] == 1 else ""
    try:
        both = md.parse(joint)
    except MatderivError:
        raise ArgumentError(f"the seed {s!r} cannot have the shape {fmt_shape(f.shape)} of {show(f)}{hint}"
                            ) from None
    prod = both.args[0] if both.op == "trace" else None
    if prod is None or prod.op != "matmul" or prod.args[0].op != "transpose":  # pragma: no cover - defensive
        raise ArgumentError(f"cannot read the seed {s!r} as an expression of the shape of {show(f)}")
    f2, rest = prod.args[0].args[0], prod.args[1:]
    seed = rest[0] if len(rest) == 1 else md.matmul(*rest)
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
    if seed is None:
        f, s = md.parse(source), None
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
        raise DerivativeError(f"{show(f)} is {fmt_shape(f.shape)}, not a scalar: give a seed of its shape, "
                              "e.g. --seed G (a new symbol) or --seed 'matrix(1)' (all ones)")
    ws = [by_name[n] for n in names]
    args = order_symbols([f] + ([s] if s is not None else []), source + " " + (seed or ""))
    out = md.grad(f, ws) if s is None else md.vjp(f, ws, s)
    return Derivation(source, f, ws, s, list(out), args, seed_text=seed)  # type: ignore[arg-type]


def certify(d: Derivation, dps: int, rng: int, at: dict[str, Any] | None = None) -> bool:
    """``md.check`` every variable at one random point (or ``at``); the report lands in ``d.report``."""
    d.report = md.check(d.f, list(d.wrt), at=at, dps=dps, rng=rng, seed=d.seed)
    return bool(d.report.ok)


def digits_of(d: Derivation, w: Expr) -> tuple[float, float | None]:
    r = d.report
    return r.digits_mpmath[w.name], r.digits_numpy[w.name]


def cert_line(d: Derivation, i: int) -> str:
    """``certified: 30 digits (mpmath, dps 30), 15.4 digits (numpy float64) at n=3, m=4; rng 0``."""
    r, w = d.report, d.wrt[i]
    dm, dn = digits_of(d, w)
    need_m, need_n = r.thresholds
    good = r.passed(w.name)
    m = f"{fmt_digits(dm)} digits (mpmath, dps {r.dps}{'' if dm >= need_m else f'; needs {need_m:g}'})"
    n = (f"numpy float64 not run: {r.numpy_error}" if dn is None else
         f"{fmt_digits(dn)} digits (numpy float64{'' if dn >= need_n else f'; needs {need_n:g}'})")
    dims = ", ".join(f"{k}={v}" for k, v in r.dims.items())
    return f"{'certified' if good else 'FAILED'}: {m}, {n}" + (f" at {dims}" if dims else "") + f"; rng {r.rng}"


def grad_name(d: Derivation, base: str | None = None) -> str:
    kind = "grad" if d.seed is None else "vjp"
    if base:
        return f"{kind}_{base}"
    return f"{kind}_" + "_".join(w.name for w in d.wrt)


def numpy_source(exprs: Sequence[Expr], args: Sequence[Expr], name: str) -> str:
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


def shapes_line(args: Sequence[Expr]) -> str:
    """``a: n×1, X: n×m, b: m×1``."""
    return ", ".join(f"{a.name}: {fmt_shape(a.shape)}" for a in args)


def _label(s: str, width: int) -> str:
    return s.ljust(width)


# ---- grad, check, latex, code ------------------------------------------------------------------------------------
def cmd_grad(ns: argparse.Namespace, out: Out) -> int:
    d = derive(ns.expr, ns.wrt, ns.where, ns.seed)
    ok = True if ns.no_check else certify(d, ns.dps, ns.rng)
    code = numpy_source(d.derivs, d.args, ns.name or grad_name(d))
    if ns.format == "text":
        for g in d.derivs:
            out(md.to_text(g))
    elif ns.format == "latex":
        for g in d.derivs:
            out(md.latex(g))
    elif ns.format == "numpy":
        out(code.rstrip("\n"))
    elif ns.format == "json":
        out(json.dumps(grad_json(d, code), indent=2, ensure_ascii=False))
    else:
        width = max(8, *(len(d.lhs(i)) + 2 for i in range(len(d.wrt))))
        out(_label("input", width) + d.text)
        if d.seed is not None:
            out(_label("seed", width) + show(d.seed))
        out(_label("shapes", width) + shapes_line(d.args))
        for i, g in enumerate(d.derivs):
            out("")
            out(_label(d.lhs(i), width) + show(g))
            short, defs = name_shared([g])
            if len(show(g)) > LONG and defs:  # a long formula again, with its repeated parts named
                out(_label("", width) + "= " + show(short[0]))
                for k, (name, definition) in enumerate(defs):
                    out(_label("", width) + ("  where " if k == 0 else " " * 8) + f"{name.name} = {show(definition)}")
            out(_label("latex", width) + d.equation(i))
            if len(show(g)) > LONG and defs:
                out(_label("", width) + "= " + md.latex(g, where=True))
            if d.report is not None:
                out(_label("check", width) + cert_line(d, i))
        out("")
        out("numpy")
        out("\n".join(("    " + line) if line else "" for line in code.rstrip("\n").splitlines()))
    if not ok:
        bad = [w.name for w in d.wrt if not d.report.passed(w.name)]
        print(f"{PROG}: certificate FAILED for d/d{', d/d'.join(bad)} of {d.text}", file=sys.stderr)
        return 1
    return 0


def grad_json(d: Derivation, code: str) -> dict[str, Any]:
    """The ``--format json`` object (its keys are stable; see ``matderiv grad --help``)."""
    r = d.report
    return {
        "input": d.text,
        "wrt": [w.name for w in d.wrt],
        "seed": None if d.seed is None else md.to_text(d.seed),
        "shapes": {a.name: [str(a.shape[0]), str(a.shape[1])] for a in d.args},
        "derivative": {w.name: md.to_text(g) for w, g in zip(d.wrt, d.derivs)},
        "latex": {w.name: md.latex(g) for w, g in zip(d.wrt, d.derivs)},
        "equation": {w.name: d.equation(i) for i, w in enumerate(d.wrt)},
        "numpy": code,
        "check": None if r is None else {
            "ok": bool(r.ok), "dps": r.dps, "rng": r.rng, "dims": dict(r.dims),
            "digits_mpmath": {w.name: r.digits_mpmath[w.name] for w in d.wrt},
            "digits_numpy": {w.name: r.digits_numpy[w.name] for w in d.wrt},
        },
    }


def parse_candidate(d: Derivation, w: Expr, text: str) -> Expr:
    """A hand-written derivative for the variable ``w``, parsed with the expression's symbols and shapes."""
    syms = {s.name: s for s in d.args}
    used = set(re.findall(r"[A-Za-z_]\w*", text))
    decls = [declaration(s) for s in d.args if s.name in used or (s == w and not w.is_scalar)]
    where = " where " + ", ".join(decls) if decls else ""
    try:
        if w.is_scalar:
            g = md.parse(text + where)
        else:
            both = md.parse(f"tr(({w.name})'*({text})){where}")
            rest = both.args[0].args[1:]
            g = rest[0] if len(rest) == 1 else md.matmul(*rest)
    except MatderivError as exc:
        try:  # a formula that parses alone but cannot have w's shape: say so, not what the shape trick tripped on
            own = [declaration(s) for s in d.args if s.name in used]
            alone = md.parse(text + (" where " + ", ".join(own) if own else ""))
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


def cmd_check(ns: argparse.Namespace, out: Out) -> int:
    d = derive(ns.expr, ns.wrt, ns.where, ns.seed)
    if ns.grad:
        if len(ns.grad) != len(d.wrt):
            raise ArgumentError(f"give one --grad per --wrt variable ({', '.join(w.name for w in d.wrt)}), "
                                f"got {len(ns.grad)}")
        d.derivs = [parse_candidate(d, w, t) for w, t in zip(d.wrt, ns.grad)]
        d.report = md.check(d.f, list(d.wrt), dps=ns.dps, rng=ns.rng, seed=d.seed, grad=list(d.derivs))
        ok = bool(d.report.ok)
    else:
        ok = certify(d, ns.dps, ns.rng)
    if ns.format == "json":
        full = grad_json(d, "")
        out(json.dumps({k: full[k] for k in ("input", "wrt", "seed", "derivative", "check")}, indent=2,
                       ensure_ascii=False))
        return 0 if ok else 1
    width = max(len(d.lhs(i)) for i in range(len(d.wrt))) + 2
    for i, g in enumerate(d.derivs):
        out(_label(d.lhs(i), width) + show(g))
        out(_label("", width) + cert_line(d, i))
    return 0 if ok else 1


def cmd_latex(ns: argparse.Namespace, out: Out) -> int:
    if not ns.wrt and ns.seed is None:
        out(md.latex(md.parse(with_where(ns.expr, ns.where))))
        return 0
    d = derive(ns.expr, ns.wrt, ns.where, ns.seed)
    for i in range(len(d.wrt)):
        out(d.equation(i))
    return 0


def module_source(d: Derivation, name: str) -> str:
    """A module with ``name`` (the expression) and ``grad_name`` (its gradient or VJP), importing only numpy."""
    gname = grad_name(d, name)
    wrt = ",".join(w.name for w in d.wrt)
    cmd = f"matderiv code {_quote(d.source)} --wrt {wrt}"
    if d.seed is not None:
        cmd += f" --seed {_quote(d.seed_text or show(d.seed))}"
    if name != "f":
        cmd += f" --name {name}"
    doc = [f'"""Generated by matderiv {md.__version__}: {cmd}', "",
           f"{name}({', '.join(a.name for a in d.f_args)}) = {d.text}"]
    for i, g in enumerate(d.derivs):
        doc.append(f"{d.lhs(i, name)} = {show(g)}")
    doc += ["", f"{gname}({', '.join(a.name for a in d.args)}) returns "
            + ("the gradient" if len(d.wrt) == 1 else f"the tuple of derivatives ({wrt})")
            + ". Shapes: " + shapes_line(d.args) + "; vectors are 1-D arrays, scalars floats.", '"""']
    body = merge_modules([numpy_source([d.f], d.f_args, name), numpy_source(d.derivs, d.args, gname)])
    return "\n".join(doc) + "\n" + body


def _quote(s: str) -> str:
    """``s`` quoted for a POSIX shell (double quotes when that needs no escapes)."""
    if re.fullmatch(r"[\w.,:=/+-]+", s):
        return s
    if not re.search(r"[\"$`\\!]", s):
        return f'"{s}"'
    return "'" + s.replace("'", "'\\''") + "'"


def cmd_code(ns: argparse.Namespace, out: Out) -> int:
    name = check_name(ns.name or "f", "function")
    d = derive(ns.expr, ns.wrt, ns.where, ns.seed)
    src = module_source(d, name)
    if ns.output:
        with open(ns.output, "w", encoding="utf-8") as fh:
            fh.write(src)
        out(f"wrote {ns.output}: {name}({', '.join(a.name for a in d.f_args)}) and "
            f"{grad_name(d, name)}({', '.join(a.name for a in d.args)})")
    else:
        out(src.rstrip("\n"))
    return 0


def _table() -> Any:
    from . import table
    return table


def _demo() -> Any:
    from . import demo
    return demo


# ---- argument parsing --------------------------------------------------------------------------------------------
EPILOGS = {
    "grad": """examples:
  matderiv grad "a'*X*b" --wrt X
  matderiv grad "x'*A*x where A: symmetric" --wrt x --format latex
  matderiv grad "norm2(A*x-y)^2" --wrt x --wrt A --format json
  matderiv grad "A*X" --wrt X --seed "matrix(1)"     # a matrix-valued F needs a seed

Without --wrt every symbol is a variable. --format selects one output for scripts:
  text   the derivative in the text language, one line per variable (in --wrt order)
  latex  the derivative in LaTeX, one line per variable
  numpy  the numpy function (grad_X, or vjp_X with a seed; --name to choose)
  json   an object with the keys
           input       the expression in the text language
           wrt         the variables' names, a list
           seed        the seed in the text language, or null
           shapes      name -> [rows, cols] for every symbol
           derivative  name -> the derivative in the text language (md.to_text: parses back,
                       with a where clause when the shapes need one)
           latex       name -> the derivative in LaTeX
           equation    name -> the whole LaTeX equation
           numpy       the code of the numpy function
           check       {ok, dps, rng, dims, digits_mpmath: name -> digits, digits_numpy: name -> digits},
                       or null with --no-check
The default prints all of them with a certificate line per variable. Exit 1 when a certificate fails.""",
    "check": """examples:
  matderiv check "a'*X*b" --wrt X
  matderiv check "logdet(X)" --wrt X --dps 60 --rng 3
  matderiv check "inv(A)" --wrt A --seed G
  matderiv check "x'*A*x" --wrt x --grad "2*A*x"      # a hand-written gradient: FAILED, exit 1

The derived formula (or a hand-written one given with --grad, written in the expression's symbols) is
compared with mpmath central differences along random directions at small random dimensions and inputs
(md.check). Exit status 0 when every variable certifies, 1 when one fails.""",
    "latex": """examples:
  matderiv latex "a'*X*b"                # a^{\\top} X b
  matderiv latex "a'*X*b" --wrt X        # the whole equation
  matderiv latex "A*X" --wrt X --seed G""",
    "code": """examples:
  matderiv code "norm2(A*x-y)^2" --wrt x -o lsq.py
  matderiv code "a'*X*b" --wrt X --name bilinear      # bilinear(a, X, b) and grad_bilinear(a, X, b)

The module imports only numpy. f(...) evaluates the expression and grad_f(...) its gradient (a tuple when
there are several variables; with --seed G it is vjp_f(..., G)). Arguments come in order of appearance;
vectors are 1-D arrays, scalars floats.""",
    "table": """examples:
  matderiv table docs/identities.txt -o docs/identities.md

The file has one identity per line, 'EXPR ; wrt X' with an optional '; seed G'. Blank lines and '#'
comments are skipped; a line '## Title' starts a section with its own table. Every row is certified
(mpmath at --dps digits, directions from --rng); when a row fails the command names its line, writes
nothing and exits 1. The page is deterministic: the same list and matderiv give the same bytes.""",
    "demo": """example:
  matderiv demo

Derives, prints, generates numpy code for and certifies the four examples of the PyTorch gradient
tutorial this project started from: aᵀXb, A X with a seed of ones, a Linear layer and a small network,
evaluating the generated code on the tutorial's numbers.""",
}


def _common(p: argparse.ArgumentParser, wrt_help: str = "") -> None:
    p.add_argument("expr", metavar="EXPR", help="the expression, e.g. \"a'*X*b\" (quote it for the shell)")
    p.add_argument("--wrt", action="append", metavar="X",
                   help=wrt_help or "a symbol to differentiate by (repeat it, or X,Y); default: every symbol")
    p.add_argument("--where", metavar="DECLS", help="declarations, e.g. \"A: symmetric, x: vector\"")
    p.add_argument("--seed", metavar="G", help="the seed of a VJP, of the expression's shape: a new name G, "
                                                "or an expression such as matrix(1) (ones)")


def _positive(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not an integer") from None
    if v < 15:
        raise argparse.ArgumentTypeError(f"{s!r}: the certificate needs at least 15 digits")
    return v


def _certificate_options(p: argparse.ArgumentParser, dps: int) -> None:
    p.add_argument("--dps", type=_positive, default=dps, metavar="D", help=f"mpmath digits (default {dps})")
    p.add_argument("--rng", type=int, default=0, metavar="R", help="seed of the random point and directions "
                                                                  "(default 0)")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error reported in one line (and a pointer to --help) instead of the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG, formatter_class=fmt,
        description="Closed-form matrix derivatives: text and LaTeX, generated numpy code, mpmath certificates.",
        epilog="""examples:
  matderiv grad "a'*X*b" --wrt X
  matderiv check "logdet(X)" --wrt X
  matderiv table docs/identities.txt -o docs/identities.md
  matderiv demo

exit status: 0 success, 1 a certificate failed, 2 bad usage or an error in the expression
(parse, shape, derivative), 3 an internal error (a bug in matderiv).""")
    parser.add_argument("--version", action="version", version=f"%(prog)s {md.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=description, formatter_class=fmt,
                              epilog=EPILOGS[name])

    p = add("grad", "derive a gradient (or a VJP with --seed) and print it every way",
            "Derive a derivative and print it as text, LaTeX and numpy code, with a certificate.")
    _common(p)
    p.add_argument("--format", choices=("all", "text", "latex", "numpy", "json"), default="all",
                   help="print one output only (default: all)")
    p.add_argument("--name", metavar="NAME", help="name of the generated numpy function")
    p.add_argument("--no-check", action="store_true", help="skip the certificate")
    _certificate_options(p, 30)
    p.set_defaults(run=cmd_grad)

    p = add("check", "certify a derivative with mpmath finite differences",
            "Certify a derivative with mpmath high-precision finite differences.")
    _common(p)
    p.add_argument("--grad", action="append", metavar="G",
                   help="a hand-written derivative to certify instead of matderiv's (one per --wrt, in order)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: {input, wrt, derivative, check} with the keys of grad's JSON")
    _certificate_options(p, 50)
    p.set_defaults(run=cmd_check)

    p = add("latex", "LaTeX of an expression, or of its derivative with --wrt",
            "Print the LaTeX of an expression, or the equation of its derivative.")
    _common(p, wrt_help="print the derivative's equation with respect to X (repeatable)")
    p.set_defaults(run=cmd_latex)

    p = add("code", "a numpy module with the expression and its gradient",
            "Generate a numpy module evaluating the expression and its gradient.")
    _common(p)
    p.add_argument("-o", "--output", metavar="FILE.py", help="write the module here (default: stdout)")
    p.add_argument("--name", metavar="NAME", help="the function's name (default f; the gradient is grad_NAME)")
    p.set_defaults(run=cmd_code)

    p = add("table", "a Markdown table of certified derivatives from a list of identities",
            "Build a Markdown table of certified derivatives.")
    p.add_argument("file", metavar="FILE", help="the identity list")
    p.add_argument("-o", "--output", metavar="OUT.md", help="write the table here (default: stdout)")
    _certificate_options(p, 30)
    p.set_defaults(run=lambda ns, out: _table().cmd_table(ns, out))

    p = add("demo", "the seed tutorial's four examples, derived, generated and certified",
            "Run the seed tutorial's examples.")
    p.add_argument("--dps", type=_positive, default=30, metavar="D", help="mpmath digits (default 30)")
    p.set_defaults(run=lambda ns, out: _demo().cmd_demo(ns, out))
    return parser


def _negative_expression_last(argv: list[str]) -> list[str]:
    """``matderiv grad "-y'*log(p)" --wrt p``: an expression that starts with '-' is not an option; move it after
    ``--`` so that argparse takes it as EXPR."""
    if len(argv) < 2 or argv[0] not in ("grad", "check", "latex", "code") or "--" in argv:
        return argv
    exprs = [i for i, a in enumerate(argv[1:], 1) if a.startswith("-") and not re.fullmatch(r"--?[A-Za-z][\w-]*", a)
             and not (i > 1 and argv[i - 1].startswith("-") and argv[i - 1] not in ("--no-check",))]
    if len(exprs) != 1:
        return argv
    i = exprs[0]
    return argv[:i] + argv[i + 1:] + ["--", argv[i]]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``matderiv`` command with ``argv`` (default ``sys.argv[1:]``) and return its exit status."""
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show ∂, × or ✓ gets escapes, not a crash
        if "utf" not in (getattr(stream, "encoding", "") or "utf").lower() and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    try:
        ns = parser.parse_args(_negative_expression_last(list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as exc:  # --help and --version (0), usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2

    def out(s: str) -> None:
        print(s)
    try:
        return int(ns.run(ns, out))
    except MatderivError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `matderiv demo | head`: the reader left; not an error
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 0
    except OSError as exc:
        print(f"{PROG}: error: {exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in matderiv: one line, not a traceback (MATDERIV_TRACEBACK=1 shows it)
        if os.environ.get("MATDERIV_TRACEBACK"):
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} (a bug in matderiv, please report it; "
              "MATDERIV_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return 3
