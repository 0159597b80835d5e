"""Issue 2 item 5: the LaTeX renders in KaTeX (strict mode), checked with KaTeX itself where it is installed.

.ci/run installs KaTeX from the npm registry into .ci/node_modules when npm is present; without node or KaTeX
the test is skipped (the structural checks of tests/test_printing.py still run).
"""
from __future__ import annotations

from pathlib import Path

import matderiv as md
from katex import katex_errors

ROOT = Path(__file__).resolve().parents[2]


def corpus() -> list[str]:
    """LaTeX of every identity of docs/identities.txt (expression, derivative, whole equation) and of a few
    expressions that exercise every printer case."""
    out: list[str] = []
    for line in (ROOT / "docs" / "identities.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(";")]
        f, wrt = md.parse(parts[0]), parts[1].split()[1]
        seed = md.parse(parts[2].split(None, 1)[1]) if len(parts) > 2 and parts[2].startswith("seed") else None
        if seed is not None and seed.shape != f.shape:
            continue
        out += [md.latex(f), md.latex_equation(f, wrt, seed=seed)]
    X, A = md.matrix("X", "n", "n"), md.matrix("A", "n", "n")
    x, s = md.vector("x", "n"), md.scalar("alpha")
    W1, b1 = md.matrix("W_1", "h", "n"), md.vector("b1", "h")
    for e in [md.kron(A, X), md.solve(X, A) @ x, md.diag(x) @ X, md.diag(X), s / (s + 1), X / 2, md.sqrt(x),
              md.abs(x) ** 1.5, md.norm2(X), md.norm2(x) ** 2, md.inv(X.T), md.inv(X).T, md.ones(3, 4) * s,
              md.exp(-x) * md.sigmoid(x) / (1 + x * x), md.logsumexp(x), md.softmax(x), md.relu(W1 @ x + b1),
              md.elementwise("my_f", lambda t: t ** 3)(X), md.trace(md.inv(X)) - md.det(X) + md.logdet(X),
              X.T.T, md.inv(X) ** 2, X.T ** 2, md.inv(X.T).T, s * (-1), md.const(2) * md.const(3), X @ (-(X * A)),
              md.const(1e-300) * X, md.const(1) / 3 * x]:
        out.append(md.latex(e))
    from optable import ALL  # every op of the registry, as the sweep has it: the sample and its VJPs
    for _, smp in ALL:
        F, syms = smp.make()
        out.append(md.latex(F))
        out += [md.latex(g) for g in md.vjp(F, syms, md.matrix("Z", *F.shape))]
    g = md.grad(md.sum(md.sigmoid(md.matrix("W2", "k", "h") @ md.relu(W1 @ x + b1))), W1)
    out += [md.latex(g, where=True), g._repr_latex_().strip("$")]
    return out


def test_every_printed_formula_renders_in_katex() -> None:
    strings = corpus()
    assert len(strings) > 100
    assert katex_errors(strings) == []
