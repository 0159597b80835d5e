"""The seed tutorial's four examples ("PyTorch: how to check that a model's gradients are right"), in closed form.

The tutorial checks gradients numerically with ``torch.autograd.gradcheck`` and reads ``X.grad`` after
``backward``; here each derivative is derived symbolically, printed as text and LaTeX, evaluated with generated
numpy code and certified against mpmath finite differences with ``md.check``.

1. f = aᵀXb (a scalar): ∂f/∂X = abᵀ, ∂f/∂a = Xb, ∂f/∂b = Xᵀa, at the tutorial's numbers.
2. F = AX (a matrix) with the seed ``ones_like(F)`` (torch: ``F.backward(torch.ones_like(F))``): Aᵀ𝟏𝟏ᵀ.
3. A linear layer Y = XWᵀ + 𝟏bᵀ (torch ``nn.Linear(5, 3)`` on a 10×5 input): VJPs in X, W and b.
4. The network Linear(15,30)–ReLU–Linear(30,15)–ReLU–Linear(15,1)–Sigmoid on a 10×15 input: VJPs in the input,
   every weight and every bias.

Run ``python examples/seed_examples.py``.
"""
from __future__ import annotations

import numpy as np

import matderiv as md


def scalar_by_matrix() -> tuple[md.Expr, list[md.Expr], dict[md.Expr, np.ndarray]]:
    """f = aᵀXb with the tutorial's a, X, b."""
    a, X, b = md.vector("a", "n"), md.matrix("X", "n", "m"), md.vector("b", "m")
    values = {a: np.array([1.0, 2, 3, 4]),
              X: np.array([[1.0, 2, 3], [5, 6, 7], [8, 9, 10], [5, 4, 3]]),
              b: np.array([2.0, 3, 4])}
    return a.T @ X @ b, [a, X, b], values


def matrix_by_matrix() -> tuple[md.Expr, md.Expr, md.Expr, dict[md.Expr, np.ndarray]]:
    """F = AX with the tutorial's A, X and the seed 𝟏𝟏ᵀ: returns (F, X, seed, values)."""
    A, X = md.matrix("A", "n", "k"), md.matrix("X", "k", "m")
    F = A @ X
    values = {A: np.array([[1.0, 2], [3, 4]]), X: np.array([[1.0, 2, 3], [4, 5, 6]])}
    return F, X, md.ones_like(F), values


def linear(X: md.Expr, n_in: int, n_out: int, name: str) -> tuple[md.Expr, md.Expr, md.Expr]:
    """torch.nn.Linear(n_in, n_out): Y = X Wᵀ + 𝟏bᵀ with W (n_out×n_in) and b (n_out); returns (Y, W, b)."""
    W, b = md.matrix(f"W{name}", n_out, n_in), md.vector(f"b{name}", n_out)
    return X @ W.T + b.T, W, b


def linear_layer() -> tuple[md.Expr, list[md.Expr], md.Expr]:
    """Y = X Wᵀ + 𝟏bᵀ on a 10×5 input with 3 outputs: returns (Y, [X, W, b], seed G of Y's shape)."""
    X = md.matrix("X", 10, 5)
    Y, W, b = linear(X, 5, 3, "")
    return Y, [X, W, b], md.matrix("G", 10, 3)


def mlp() -> tuple[md.Expr, list[md.Expr], md.Expr]:
    """Linear(15,30)–ReLU–Linear(30,15)–ReLU–Linear(15,1)–Sigmoid on a 10×15 input X.

    Returns (Y, [X, W1, b1, W2, b2, W3, b3], seed G of Y's shape 10×1)."""
    X = md.matrix("X", 10, 15)
    Z1, W1, b1 = linear(X, 15, 30, "1")
    Z2, W2, b2 = linear(md.relu(Z1), 30, 15, "2")
    Z3, W3, b3 = linear(md.relu(Z2), 15, 1, "3")
    return md.sigmoid(Z3), [X, W1, b1, W2, b2, W3, b3], md.matrix("G", 10, 1)


def _show(title: str, f: md.Expr, derivs: dict[str, md.Expr], seed: md.Expr | None = None) -> None:
    print(f"\n== {title}\n   {'F' if seed is not None else 'f'} = {f}")
    for name, d in derivs.items():
        lhs = f"d{name}" if seed is None else f"vjp({name}, seed={seed})"
        print(f"   {lhs} = {d}")
        print(f"      LaTeX: {md.latex(d)}")


def main() -> None:
    np.set_printoptions(precision=4, suppress=True)

    f, syms, values = scalar_by_matrix()
    grads = md.grad(f, syms)
    _show("1. f = aᵀXb", f, {s.name: g for s, g in zip(syms, grads)})
    print("  ", md.latex_equation(f, syms[1]))
    evaluate = md.lambdify(syms, [f, *grads])
    for name, value in zip(["f", "da", "dX", "db"], evaluate(*values.values())):
        print(f"   {name} =\n{np.asarray(value)}")
    for s in syms:
        print("  ", md.check(f, s, at=values))

    F, X, seed, values = matrix_by_matrix()
    vjp = md.vjp(F, X, seed)
    _show("2. F = AX, seed = ones_like(F)", F, {"X": vjp}, seed)
    print(f"   X.grad =\n{md.lambdify(list(values), vjp)(*values.values())}")
    print("  ", md.check(F, X, at=values, seed=seed))

    Y, syms, G = linear_layer()
    vjps = md.vjp(Y, syms, G)
    _show("3. linear layer Y = X Wᵀ + 1bᵀ", Y, {s.name: v for s, v in zip(syms, vjps)}, G)
    for s in syms:
        print("  ", md.check(Y, s, seed=G))

    Y, syms, G = mlp()
    vjps = md.vjp(Y, syms, G)
    print(f"\n== 4. MLP 15-30-15-1 with ReLU and sigmoid\n   F = {Y}")
    print(f"   VJPs in {', '.join(s.name for s in syms)}, as generated numpy (common subexpressions once):")
    code = md.numpy_code(list(vjps), args=[*syms, G], name="mlp_vjp")
    print("\n".join(line for line in code.splitlines() if line.lstrip().startswith(("t", "return"))))
    for s, v in zip(syms, vjps):
        report = md.check(Y, s, seed=G)
        print(f"   d{s.name}: {'certified' if report.ok else 'FAILED'}, {report.digits_mpmath[s.name]:.1f} digits "
              f"(mpmath, dps={report.dps}), {report.digits_numpy[s.name]} digits (numpy float64)")


if __name__ == "__main__":
    main()
