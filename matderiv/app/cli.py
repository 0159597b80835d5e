"""The ``matderiv`` command: derive, print, generate and certify matrix derivatives from the shell.

Subcommands ``grad``, ``jacobian``, ``hessian``, ``check``, ``latex``, ``code``, ``table`` and ``demo`` (``matderiv COMMAND --help``).
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
from typing import Any, NoReturn, Sequence

from ..api import __version__, explain, latex, parse, to_text
from ..core.errors import ArgumentError, MatderivError
from ..core.expr import check_name
from ..printing.where import name_shared
from .derive import (PROG, Derivation, Out, SecondDerivation, certify, derive, derive_second, grad_name,
                     module_source, numpy_source, parse_candidate, shapes_line, show, text_of, with_where)

LONG = 80  # a derivative whose text is longer is shown again with its repeated parts named


def _label(s: str, width: int) -> str:
    return s.ljust(width)


# ---- grad, check, latex, code ------------------------------------------------------------------------------------
def cmd_grad(ns: argparse.Namespace, out: Out) -> int:
    if ns.steps and ns.format == "numpy":  # the module must stay valid Python when redirected
        raise ArgumentError("--steps does not go with --format numpy (the output is a Python module); use "
                            "--format text, latex, json or all for the steps")
    d = derive(ns.expr, ns.wrt, ns.where, ns.seed)
    if ns.steps:
        _steps(d, ns.format, out)
    ok = True if ns.no_check else certify(d, ns.dps, ns.rng)
    code = numpy_source(d.derivs, d.args, ns.name or grad_name(d))
    if ns.format == "text":
        for i, g in enumerate(d.derivs):  # after the steps, the result is labelled: df/dx = …
            out(f"{d.lhs(i)} = {to_text(g)}" if ns.steps else to_text(g))
    elif ns.format == "latex":
        for g in d.derivs:
            out(latex(g))
    elif ns.format == "numpy":
        out(code.rstrip("\n"))
    elif ns.format == "json":
        obj = grad_json(d, code)
        if ns.steps:  # the derivation of each gradient: its steps as text, by variable
            obj["steps"] = {w.name: [s.text(show) for s in explain(d.f, w).steps] for w in d.wrt}
        out(json.dumps(obj, indent=2, ensure_ascii=False))
    else:
        width = max(8, *(len(d.lhs(i)) + 2 for i in range(len(d.wrt))))
        out(_label("input", width) + d.text)
        if d.seed is not None:
            out(_label("seed", width) + show(d.seed))
        out(_label("shapes", width) + shapes_line(d.args, d.kinds))
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
                out(_label("", width) + "= " + latex(g, where=True))
            if d.report is not None:
                out(_label("check", width) + d.report.summary(d.wrt[i].name))
        out("")
        out("numpy")
        out("\n".join(("    " + line) if line else "" for line in code.rstrip("\n").splitlines()))
    if not ok:
        bad = [w.name for w in d.wrt if not d.report.passed(w.name)]
        print(f"{PROG}: certificate FAILED for d/d{', d/d'.join(bad)} of {d.text}", file=sys.stderr)
        return 1
    return 0


def _steps(d: Derivation, fmt: str, out: Out) -> None:
    """``--steps``: the derivation of each gradient, numbered (md.explain), before the other output."""
    if d.seed is not None:
        raise ArgumentError("--steps explains gradients of scalars; it does not take --seed")
    for w in d.wrt:
        if fmt == "json":  # in the JSON object, key "steps"
            continue
        e = explain(d.f, w)
        out(e.latex() if fmt == "latex" else e.text(show))
        out("")


def _dims(shape: Any) -> list[str]:
    """[rows, cols] in the text language: ``["n^2", "m*n"]``."""
    return [str(k).replace("**", "^") for k in shape]


def _kinds(args: Sequence[Any], kinds: dict[str, Any]) -> dict[str, dict[str, str]]:
    """name -> {kind, how}: how each symbol's kind was decided (declared, a default rule, inferred)."""
    out = {}
    for a in args:
        k = kinds.get(a.name)
        if k is not None:
            how = {"declared": "declared", "default": f"default: {k.why}"}.get(k.source, f"inferred: {k.why}")
            out[a.name] = {"kind": k.kind, "how": how}
    return out


def grad_json(d: Derivation, code: str) -> dict[str, Any]:
    """The ``--format json`` object (its keys are stable and those of ``matderiv jacobian`` and ``hessian``; see
    ``matderiv grad --help``)."""
    r = d.report
    return {
        "input": d.text,
        "kind": "gradient" if d.seed is None else "vjp",
        "wrt": [w.name for w in d.wrt],
        "seed": None if d.seed is None else to_text(d.seed),
        "shapes": {a.name: _dims(a.shape) for a in d.args},
        "kinds": _kinds(d.args, d.kinds),
        "shape": {w.name: _dims(g.shape if not g.is_scalar else w.shape) for w, g in zip(d.wrt, d.derivs)},
        "layout": "the variable's shape: d/dX has X's shape",
        "derivative": {w.name: to_text(g) for w, g in zip(d.wrt, d.derivs)},
        "latex": {w.name: latex(g) for w, g in zip(d.wrt, d.derivs)},
        "equation": {w.name: d.equation(i) for i, w in enumerate(d.wrt)},
        "numpy": code,
        "check": None if r is None else {
            "ok": bool(r.ok), "dps": r.dps, "rng": r.rng, "dims": dict(r.dims),
            "digits_mpmath": {w.name: r.digits_mpmath[w.name] for w in d.wrt},
            "digits_numpy": {w.name: r.digits_numpy[w.name] for w in d.wrt},
        },
    }


def cmd_second(ns: argparse.Namespace, out: Out) -> int:
    """``matderiv jacobian`` and ``matderiv hessian``: the matrix in numerator layout (vec form for matrices)."""
    from ..api import check, check_jacobian
    d = derive_second(ns.command, ns.expr, ns.wrt, ns.where)
    if not ns.no_check:
        d.report = (check(d.f, d.wrt, order=2, dps=ns.dps, rng=ns.rng) if d.kind == "hessian"
                    else check_jacobian(d.f, d.wrt, dps=ns.dps, rng=ns.rng))
    ok = d.report is None or bool(d.report.ok)
    code = numpy_source([d.matrix], d.args, ns.name or f"{d.kind}_{d.wrt.name}")
    if ns.format == "text":
        out(text_of(d.matrix))
    elif ns.format == "latex":
        out(latex(d.matrix))
    elif ns.format == "numpy":
        out(code.rstrip("\n"))
    elif ns.format == "json":
        out(json.dumps(second_json(d, code), indent=2, ensure_ascii=False))
    else:
        width = 8
        out(_label("input", width) + d.text)
        out(_label("shapes", width) + shapes_line(d.args))
        rows, cols = d.matrix.shape
        vec = "" if d.wrt.shape[1] == 1 and d.f.shape[1] == 1 else ", vec form: vec(dF) = J vec(dX)"
        out(_label("layout", width) + f"{rows}×{cols}, numerator layout{vec}")
        out("")
        out(_label("H" if d.kind == "hessian" else "J", width) + text_of(d.matrix))
        out(_label("latex", width) + d.equation())
        if d.report is not None:
            out(_label("check", width) + d.report.summary())
        out("")
        out("numpy")
        out("\n".join(("    " + line) if line else "" for line in code.rstrip("\n").splitlines()))
    if not ok:
        print(f"{PROG}: certificate FAILED for the {d.kind} of {d.text}", file=sys.stderr)
        return 1
    return 0


def second_json(d: SecondDerivation, code: str) -> dict[str, Any]:
    """The ``--format json`` object of ``matderiv jacobian`` and ``matderiv hessian``."""
    r, x = d.report, d.wrt.name
    return {
        "input": d.text,
        "kind": d.kind,
        "wrt": [x],
        "seed": None,
        "shapes": {a.name: _dims(a.shape) for a in d.args},
        "kinds": _kinds(d.args, d.kinds),
        "shape": {x: _dims(d.matrix.shape)},
        "layout": "numerator; vec(dF) = J vec(dX), column-major vec",
        "derivative": {x: text_of(d.matrix)},
        "latex": {x: latex(d.matrix)},
        "equation": {x: d.equation()},
        "numpy": code,
        "check": None if r is None else {
            "ok": bool(r.ok), "dps": r.dps, "rng": r.rng, "dims": dict(r.dims),
            "digits_mpmath": {x: r.digits_first}, "digits_numpy": {x: r.digits_numpy},
            "digits_second": r.digits_second,  # second differences of f (Hessians; null for Jacobians)
        },
    }


def cmd_check(ns: argparse.Namespace, out: Out) -> int:
    d = derive(ns.expr, ns.wrt, ns.where, ns.seed)
    if ns.grad:
        if len(ns.grad) != len(d.wrt):
            raise ArgumentError(f"give one --grad per --wrt variable ({', '.join(w.name for w in d.wrt)}), "
                                f"got {len(ns.grad)}")
        d.derivs = [parse_candidate(d, w, t) for w, t in zip(d.wrt, ns.grad)]
    ok = certify(d, ns.dps, ns.rng, candidates=d.derivs if ns.grad else None)
    if ns.format == "json":
        full = grad_json(d, "")
        out(json.dumps({k: full[k] for k in ("input", "wrt", "seed", "derivative", "check")}, indent=2,
                       ensure_ascii=False))
        return 0 if ok else 1
    width = max(len(d.lhs(i)) for i in range(len(d.wrt))) + 2
    for i, g in enumerate(d.derivs):
        out(_label(d.lhs(i), width) + show(g))
        out(_label("", width) + d.report.summary(d.wrt[i].name))
    return 0 if ok else 1


def cmd_latex(ns: argparse.Namespace, out: Out) -> int:
    if not ns.wrt and ns.seed is None:
        out(latex(parse(with_where(ns.expr, ns.where))))
        return 0
    d = derive(ns.expr, ns.wrt, ns.where, ns.seed)
    for i in range(len(d.wrt)):
        out(d.equation(i))
    return 0


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
  matderiv grad "x'*A*x" --wrt x --steps             # the derivation step by step first

Without --wrt every symbol is a variable. --format selects one output for scripts:
  text   the derivative in the text language, one line per variable (in --wrt order)
  latex  the derivative in LaTeX, one line per variable
  numpy  the numpy function (grad_X, or vjp_X with a seed; --name to choose)
  json   an object with the keys (the same as matderiv jacobian's and hessian's)
           input       the expression in the text language
           kind        "gradient", or "vjp" with a seed
           wrt         the variables' names, a list
           seed        the seed in the text language, or null
           shapes      name -> [rows, cols] for every symbol (dimensions in the text language: n, n^2, m*n)
           kinds       name -> {kind, how}: scalar/vector/matrix and how it was decided
                       ("declared", "default: lower-case names", "inferred: ...")
           shape       variable -> [rows, cols] of its derivative
           layout      how the derivative is laid out (here: like the variable)
           derivative  name -> the derivative in the text language (md.to_text: parses back,
                       with a where clause when the shapes need one)
           latex       name -> the derivative in LaTeX
           equation    name -> the whole LaTeX equation
           numpy       the code of the numpy function
           check       {ok, dps, rng, dims, digits_mpmath: name -> digits, digits_numpy: name -> digits},
                       or null with --no-check
The default prints all of them with a certificate line per variable. Exit 1 when a certificate fails.""",
    "jacobian": """examples:
  matderiv jacobian "A*x" --wrt x                    # A
  matderiv jacobian "softmax(x)" --wrt x             # diag(s) - s s'
  matderiv jacobian "inv(X)" --wrt X --format latex  # vec form: -X^{-T} (x) X^{-1}

The Jacobian in numerator layout: m×n, dF_i/dx_j, for a vector F (m) of a vector x (n); for matrices
the matrix J with vec(dF) = J vec(dX) (column-major vec), built from Kronecker products and the
commutation matrix K. SymPy's matrix calculus prints the transpose (denominator layout).
--format json gives grad's keys {input, kind, wrt (a list of one), seed (null), shapes, kinds, shape,
layout, derivative, latex, equation (each variable -> value), numpy, check: {ok, dps, rng, dims,
digits_first, digits_second (null), digits_numpy}} (md.check_jacobian); derivative is in the text
language, or in str() form (K(n, m), vec(X)) where the language has no words.""",
    "hessian": """examples:
  matderiv hessian "x'*A*x" --wrt x                  # A + A'
  matderiv hessian "sum(log(1 + exp(-y .* (X*w))))" --wrt w
  matderiv hessian "logdet(X)" --wrt X               # vec form, (n^2)×(n^2)

The Hessian of a scalar: the Jacobian of its gradient (vec form for a matrix variable), certified by
md.check(f, x, order=2): mpmath differences of the gradient and second differences of f. --format json
as for jacobian, with digits_second.""",
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
  matderiv jacobian "softmax(x)" --wrt x
  matderiv hessian "x'*A*x" --wrt x
  matderiv check "logdet(X)" --wrt X
  matderiv table docs/identities.txt -o docs/identities.md
  matderiv demo

exit status: 0 success, 1 a certificate failed, 2 bad usage or an error in the expression
(parse, shape, derivative), 3 an internal error (a bug in matderiv).""")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    p.add_argument("--steps", action="store_true", help="print the derivation step by step first (md.explain)")
    _certificate_options(p, 30)
    p.set_defaults(run=cmd_grad)

    for kind, what in (("jacobian", "a Jacobian matrix (numerator layout; vec form for matrices)"),
                       ("hessian", "a Hessian matrix (vec form for a matrix variable)")):
        p = add(kind, f"derive {what}, print it every way", f"Derive {what} and print it as text, LaTeX and "
                "numpy code, with a certificate.")
        p.add_argument("expr", metavar="EXPR", help="the expression (quote it for the shell)")
        p.add_argument("--wrt", action="append", metavar="X", help="the variable (needed when there are several)")
        p.add_argument("--where", metavar="DECLS", help="declarations, e.g. \"A: symmetric, x: vector\"")
        p.add_argument("--format", choices=("all", "text", "latex", "numpy", "json"), default="all",
                       help="print one output only (default: all)")
        p.add_argument("--name", metavar="NAME", help="name of the generated numpy function")
        p.add_argument("--no-check", action="store_true", help="skip the certificate")
        _certificate_options(p, 30)
        p.set_defaults(run=cmd_second)

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
    if len(argv) < 2 or argv[0] not in ("grad", "jacobian", "hessian", "check", "latex", "code") or "--" in argv:
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
