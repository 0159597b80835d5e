"""``matderiv jacobian`` and ``matderiv hessian``, run in-process: text, LaTeX, numpy (evaluated against
hand-written numpy of the textbook forms), JSON, certificates; ``matderiv grad`` of a non-scalar points to them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matderiv.app.cli import main
from test_cli import assert_only_numpy, load_source, run


@pytest.mark.parametrize("cmd", ["jacobian", "hessian"])
def test_help_shows_an_example(capsys: pytest.CaptureFixture[str], cmd: str) -> None:
    rc, out, _ = run(capsys, cmd, "--help")
    assert rc == 0 and f"\n  matderiv {cmd} " in out


def test_jacobian_text_latex(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "jacobian", "A*x", "--wrt", "x", "--format", "text") == (0, "A\n", "")
    rc, out, _ = run(capsys, "jacobian", "softmax(x)", "--format", "text")  # one symbol: --wrt may be left out
    assert rc == 0 and out == "diag(softmax(x)) - softmax(x)*softmax(x)'\n"
    rc, out, _ = run(capsys, "jacobian", "inv(X)", "--wrt", "X", "--format", "latex")
    assert rc == 0 and out.strip() == r"-X^{-\top} \otimes X^{-1}"  # −(A ⊗ B) = (−A) ⊗ B: the sign leads


def test_hessian_all_output_and_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "hessian", "x'*A*x", "--wrt", "x")
    assert rc == 0
    assert "H       A + A'" in out and "certified" in out and "second differences of f" in out
    assert r"\frac{\partial^{2}}{\partial x\, \partial x^{\top}}" in out


def test_hessian_logistic_numpy_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "hessian", "sum(log(1 + exp(-y .* (X*w))))", "--wrt", "w", "--format", "numpy",
                     "--name", "hess")
    assert rc == 0
    assert_only_numpy(out)
    assert "np.diag" not in out
    mod = load_source(tmp_path, out, "hess_mod")
    rng = np.random.default_rng(3)
    X, y, w = rng.standard_normal((9, 3)), rng.uniform(0.5, 2.0, 9), rng.standard_normal(3)
    z = y * (X @ w)
    s = 1 / (1 + np.exp(-z))
    want = X.T @ np.diag(y * y * s * (1 - s)) @ X
    np.testing.assert_allclose(mod.hess(y, X, w), want, rtol=1e-12, atol=1e-12)


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "hessian", "logdet(X)", "--wrt", "X", "--format", "json", "--dps", "20")
    assert rc == 0
    doc = json.loads(out)
    rc, out_grad, _ = run(capsys, "grad", "logdet(X)", "--wrt", "X", "--format", "json", "--no-check")
    assert list(doc) == list(json.loads(out_grad)) == [  # one layout for grad, jacobian and hessian
        "input", "kind", "wrt", "seed", "shapes", "kinds", "shape", "layout", "derivative", "latex", "equation",
        "numpy", "check"]
    assert doc["kind"] == "hessian" and doc["wrt"] == ["X"] and doc["seed"] is None
    assert doc["shape"] == {"X": ["n^2", "n^2"]} and doc["shapes"] == {"X": ["n", "n"]}
    assert doc["kinds"] == {"X": {"kind": "matrix", "how": "default: upper-case names"}}
    assert list(doc["derivative"]) == list(doc["latex"]) == list(doc["equation"]) == ["X"]
    assert doc["check"]["ok"] and doc["check"]["digits_second"] >= 5
    assert set(doc["check"]["digits_mpmath"]) == set(doc["check"]["digits_numpy"]) == set(doc["wrt"])
    rc, out, _ = run(capsys, "jacobian", "X'", "--wrt", "X", "--format", "json", "--no-check")
    doc = json.loads(out)
    assert rc == 0 and doc["check"] is None and doc["derivative"] == {"X": "K(n, m)"}
    assert doc["shape"] == {"X": ["m*n", "m*n"]} or doc["shape"] == {"X": ["n*m", "n*m"]}
    rc, out, _ = run(capsys, "jacobian", "A*x where x: vector", "--wrt", "x", "--format", "json", "--no-check")
    kinds = json.loads(out)["kinds"]
    assert kinds == {"A": {"kind": "matrix", "how": "default: upper-case names"}, "x": {"kind": "vector", "how": "declared"}}


def test_errors(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "grad", "A*x", "--wrt", "x")
    assert rc == 2 and "matderiv jacobian" in err and "seed" in err
    rc, _, err = run(capsys, "hessian", "A*x", "--wrt", "x")
    assert rc == 2 and 'use matderiv jacobian "A*x" --wrt x' in err and "md." not in err
    assert "kinds not declared: A matrix" in err and err.count("\n") == 1
    rc, _, err = run(capsys, "hessian", "x'*A*x", "--wrt", "x,A")
    assert rc == 2 and "takes one variable, but --wrt names 2 (x, A)" in err and "give --wrt X" not in err
    rc, _, err = run(capsys, "hessian", "x'*A*x", "--wrt", "x", "--wrt", "A")
    assert rc == 2 and "--wrt names 2" in err
    rc, _, err = run(capsys, "hessian", "x'*A*x")
    assert rc == 2 and "give --wrt X" in err
    rc, _, err = run(capsys, "jacobian", "A*x")
    assert rc == 2 and "one variable" in err
    rc, _, err = run(capsys, "jacobian", "kron(X, A)", "--wrt", "X")
    assert rc == 2 and "cannot write the Jacobian of kron(X, A)" in err and "Kronecker product" in err
    rc, out, err = run(capsys, "jacobian", "diag(x)", "--wrt", "x")  # the selection matrix: read off, certified
    assert rc == 0 and "certified" in out, err


def test_steps_with_numpy_is_a_usage_error_and_text_steps_label_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    """--steps --format numpy would put text before the module: refused in one line; with --format text the
    gradient after the steps is labelled (df/dx = (A + A')x, C 81)."""
    rc, out, err = run(capsys, "grad", "x'*A*x", "--wrt", "x", "--steps", "--format", "numpy")
    assert rc == 2 and out == "" and "--steps" in err and "numpy" in err and err.count("\n") == 1
    rc, out, _ = run(capsys, "grad", "x'*A*x", "--wrt", "x", "--steps", "--format", "text", "--no-check")
    assert rc == 0 and out.splitlines()[-1] == "df/dx = (A + A')*x" and out.splitlines()[0].startswith("∂f/∂x")
    rc, out, _ = run(capsys, "grad", "x'*A*x", "--wrt", "x", "--format", "text", "--no-check")
    assert out == "(A + A')*x\n"  # without --steps: the bare formula, as before
