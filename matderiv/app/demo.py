"""``matderiv demo``: the four examples of the seed tutorial (aᵀXb, AX with a ones seed, a Linear layer, a
Linear–ReLU–Linear–ReLU–Linear–Sigmoid network), derived, printed, generated as numpy and certified."""
from __future__ import annotations

import argparse
import re
from typing import Any

import numpy as np

from ..api import lambdify, latex, matrix, relu, scalar, sigmoid, simplify, symbol, to_text, vector, vjp
from ..core.expr import Expr
from ..core.spec import rebuild
from .derive import Derivation, Out, certify, derive, grad_name, numpy_source, show


# ---- demo: the seed tutorial's four examples ---------------------------------------------------------------------
SEED_A = [1, 2, 3, 4]
SEED_X = [[1, 2, 3], [5, 6, 7], [8, 9, 10], [5, 4, 3]]
SEED_B = [2, 3, 4]
SEED_XGRAD = [[2, 3, 4], [4, 6, 8], [6, 9, 12], [8, 12, 16]]
SEED_A2 = [[1, 2], [3, 4]]
SEED_X2 = [[1, 2, 3], [4, 5, 6]]
SEED_X2GRAD = [[4, 4, 4], [6, 6, 6]]


def fmt_array(v: Any) -> str:
    """A value on one line: integers without a decimal point, others to 6 significant digits."""
    a = np.asarray(v, dtype=float)
    if np.all(a == np.round(a)) and np.all(np.abs(a) < 1e15):
        return str(np.asarray(np.round(a), dtype=np.int64).tolist())
    return np.array2string(a, precision=6, separator=", ", max_line_width=10_000).replace("\n", "")


def substitute(e: Expr, names: dict[Expr, Expr]) -> Expr:
    """``e`` with the subexpressions in ``names`` replaced by their symbols (for display only)."""
    if e in names:
        return names[e]
    if not e.args:
        return e
    args = tuple(substitute(a, names) for a in e.args)
    return e if args == e.args else rebuild(e, args)


def _demo_derivation(out: Out, title: str, d: Derivation, dps: int, at: dict[str, Any] | None = None,
                     names: dict[Expr, Expr] | None = None, legend: str = "", code: bool = True) -> bool:
    out(title)
    out(f"  {d.text}")
    if legend:
        out(f"  {legend}")
    ok = certify(d, dps, 0, at=at)
    width = max(len(d.lhs(i)) for i in range(len(d.wrt))) + 4
    for i, g in enumerate(d.derivs):
        shown = substitute(g, names) if names else g
        out(f"  {d.lhs(i)}".ljust(width) + show(shown))
        out("".ljust(width) + latex(shown))
        out("".ljust(width) + d.report.summary(d.wrt[i].name))
    if code:
        src = numpy_source(d.derivs, d.args, grad_name(d))
        out(f"  generated numpy: def {grad_name(d)}({', '.join(a.name for a in d.args)}), {len(src.splitlines())} "
            "lines with the argument checks; it computes")
        for line in code_core(src):
            out(f"      {line}")
    return ok


def code_core(src: str) -> list[str]:
    """The computing lines of a generated function (its temporaries and return), without argument checks."""
    return [line.strip() for line in src.splitlines() if re.match(r"    (t\d+ = |return )", line)]


def run_demo(out: Out, dps: int = 30) -> int:
    """Derive, print, generate and certify the four examples of the seed tutorial (a PyTorch gradcheck post)."""
    out("matderiv demo: the four examples of the PyTorch tutorial this project started from")
    out("")
    ok = True

    # 1. a scalar by a matrix
    d = derive("a'*X*b")
    ok &= _demo_derivation(out, "[1] scalar by matrix: f = aᵀ X b  (the tutorial's f.backward(); X.grad)", d, dps)
    fn = lambdify(d.args, d.derivs)
    ga, gX, gb = fn(SEED_A, SEED_X, SEED_B)
    out(f"  at a = {SEED_A}, X = {SEED_X}, b = {SEED_B}:")
    out(f"    df/dX = {fmt_array(gX)}")
    out(f"    tutorial's X.grad = {SEED_XGRAD}   {_same(gX, SEED_XGRAD)}")
    out(f"    df/da = {fmt_array(ga)}, df/db = {fmt_array(gb)}  (the tutorial's a.grad, b.grad are None: "
        "no requires_grad)")
    ok &= np.array_equal(gX, SEED_XGRAD)
    out("")

    # 2. a matrix by a matrix, with a seed of ones
    d = derive("A*X", ["X"], seed="matrix(1)")
    ok &= _demo_derivation(out, "[2] matrix by matrix: F = A X, seed 𝟏𝟏ᵀ  (the tutorial's "
                           "F.backward(torch.ones_like(F)); X.grad)", d, dps)
    fn = lambdify(d.args, d.derivs[0])
    gX2 = fn(SEED_A2, SEED_X2)
    out(f"  at A = {SEED_A2}, X = {SEED_X2}:")
    out(f"    d<11ᵀ, F>/dX = {fmt_array(gX2)}")
    out(f"    tutorial's X.grad = {SEED_X2GRAD}   {_same(gX2, SEED_X2GRAD)}")
    ok &= np.array_equal(gX2, SEED_X2GRAD)
    out("")

    # 3. a Linear layer, checked at the tutorial's shapes like torch.autograd.gradcheck
    rng = np.random.default_rng(0)
    d = derive("X*W' + vector(1)*b'", seed="G")
    at = {"X": rng.standard_normal((10, 5)), "W": rng.uniform(-0.45, 0.45, (3, 5)),
          "b": rng.uniform(-0.45, 0.45, 3)}
    ok &= _demo_derivation(out, "[3] nn.Linear(5, 3) on a 10×5 input: Y = X Wᵀ + 𝟏 bᵀ, VJPs with a seed G "
                           "(checked at the tutorial's shapes X 10×5, W 3×5, b 3)", d, dps, at=at)
    out(f"  tutorial: gradcheck(linear, inputs) → Are the gradients correct:  True;   "
        f"matderiv: {'True' if d.report.ok else 'False'}")
    out("")

    # 4. the network Linear(15,30)-ReLU-Linear(30,15)-ReLU-Linear(15,1)-Sigmoid on a 10x15 input
    d, names, legend = _network()
    at = {"n": 10}  # the batch; md.check draws generic inputs, away from the ReLU kinks
    ok &= _demo_derivation(out, "[4] the network Linear(15,30)–ReLU–Linear(30,15)–ReLU–Linear(15,1)–Sigmoid on a "
                           "10×15 input, VJPs w.r.t. the input and every weight and bias", d, dps, at=at,
                           names=names, legend=legend)
    fn = lambdify(d.args, d.derivs)
    vals = [d.report.values[a.name] for a in d.args]
    shapes = ", ".join(f"{w.name} {_shape(v)}" for w, v in zip(d.wrt, fn(*vals)))
    out(f"  the generated numpy VJP at the tutorial's shapes returns {shapes}")
    out(f"  tutorial: gradcheck(net, inputs) → Are the gradients correct:  True;   "
        f"matderiv: {'True' if d.report.ok else 'False'}")
    out("")
    out("all four certified" if ok else "SOMETHING FAILED (see above)")
    return 0 if ok else 1


def _same(got: Any, want: Any) -> str:
    same = np.array_equal(np.asarray(got, dtype=float), np.asarray(want, dtype=float))
    return "equal ✓" if same else "DIFFERENT ✗"


def _shape(v: Any) -> str:
    s = np.shape(v)
    return "scalar" if not s else "×".join(map(str, s))


def _network() -> tuple[Derivation, dict[Expr, Expr], str]:
    """The tutorial's network with a seed G, and names for its layers (to print the VJPs compactly)."""
    X = matrix("X", "n", 15)
    W1, b1 = matrix("W1", 30, 15), vector("b1", 30)
    W2, b2 = matrix("W2", 15, 30), vector("b2", 15)
    W3, b3 = matrix("W3", 1, 15), scalar("b3")
    Z1 = X @ W1.T + b1.T
    H1 = relu(Z1)
    Z2 = H1 @ W2.T + b2.T
    H2 = relu(Z2)
    Y = sigmoid(H2 @ W3.T + b3)
    G = vector("G", "n")
    ws = [X, W1, b1, W2, b2, W3, b3]
    d = Derivation(to_text(Y), Y, ws, G, list(vjp(Y, ws, G)), ws + [G])  # type: ignore[arg-type]
    names: dict[Expr, Expr] = {}
    legend = []
    for nm, e in (("Y", Y), ("H2", H2), ("Z2", Z2), ("H1", H1), ("Z1", Z1)):
        sym = symbol(nm, *e.shape)
        names[e] = names[simplify(e)] = sym
    for nm, e in (("Z1", Z1), ("H1", H1), ("Z2", Z2), ("H2", H2), ("Y", Y)):
        legend.append(f"{nm} = {show(substitute(e, {k: v for k, v in names.items() if v.name != nm}))}")
    return d, names, "with " + ", ".join(legend)


def cmd_demo(ns: argparse.Namespace, out: Out) -> int:
    return run_demo(out, dps=ns.dps)
