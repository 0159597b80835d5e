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
    assert rc == 0 and out.strip() == r"-\left(X^{-\top} \otimes X^{-1}\right)"


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
    assert list(doc) == ["input", "kind", "wrt", "shapes", "shape", "layout", "derivative", "latex", "equation",
                         "numpy", "check"]
    assert doc["kind"] == "hessian" and doc["shape"] == ["n**2", "n**2"]
    assert doc["check"]["ok"] and doc["check"]["digits_second"] >= 5
    rc, out, _ = run(capsys, "jacobian", "X'", "--wrt", "X", "--format", "json", "--no-check")
    doc = json.loads(out)
    assert rc == 0 and doc["check"] is None and doc["derivative"] == "K(n, m)"


def test_errors(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "grad", "A*x", "--wrt", "x")
    assert rc == 2 and "matderiv jacobian" in err and "seed" in err
    rc, _, err = run(capsys, "hessian", "A*x", "--wrt", "x")
    assert rc == 2 and "md.jacobian" in err
    rc, _, err = run(capsys, "jacobian", "A*x")
    assert rc == 2 and "one variable" in err
    rc, _, err = run(capsys, "jacobian", "diag(x)", "--wrt", "x")
    assert rc == 2 and "cannot read a Jacobian" in err
