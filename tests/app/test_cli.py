"""The ``matderiv`` command, run in-process with ``main([...])``.

Numbers are checked against hand-written numpy (the Matrix Cookbook's closed forms) and the seed tutorial's
printed values; the generated code is imported from the files the command writes.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import matderiv as md
from matderiv.app import derive as app_derive, table
from matderiv.app.cli import main

ROOT = Path(__file__).resolve().parents[2]
SEED_A = np.array([1.0, 2, 3, 4])
SEED_X = np.array([[1.0, 2, 3], [5, 6, 7], [8, 9, 10], [5, 4, 3]])
SEED_B = np.array([2.0, 3, 4])
SEED_XGRAD = [[2, 3, 4], [4, 6, 8], [6, 9, 12], [8, 12, 16]]  # the tutorial's printed X.grad


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def load(path: Path, name: str = "generated") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_source(tmp_path: Path, source: str, name: str = "generated") -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return load(path, name)


def assert_only_numpy(source: str) -> None:
    imports = [ln.strip() for ln in source.splitlines() if re.match(r"\s*(import|from)\s", ln)]
    assert imports and all(ln == "import numpy as np" for ln in imports), imports


# ---- the command itself ------------------------------------------------------------------------------------------
def test_python_m_matderiv_help_runs_in_a_subprocess() -> None:
    p = subprocess.run([sys.executable, "-m", "matderiv", "--help"], capture_output=True, text=True, timeout=60,
                       cwd=ROOT)
    assert p.returncode == 0, p.stderr
    for cmd in ("grad", "check", "latex", "code", "table", "demo"):
        assert cmd in p.stdout
    assert "exit status" in p.stdout


@pytest.mark.parametrize("cmd", ["grad", "check", "latex", "code", "table", "demo"])
def test_every_subcommand_help_shows_an_example(capsys: pytest.CaptureFixture[str], cmd: str) -> None:
    rc, out, _ = run(capsys, cmd, "--help")
    assert rc == 0
    assert re.search(r"^examples?:\n  matderiv " + cmd, out, re.M), out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out.strip() == f"matderiv {md.__version__}"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "grad")[0] == 2                         # EXPR missing
    assert run(capsys, "frobnicate")[0] == 2                   # no such command
    assert run(capsys, "grad", "a'*X*b", "--format", "yaml")[0] == 2
    rc, _, err = run(capsys, "check", "a'*X*b", "--dps", "5")
    assert rc == 2 and "at least 15 digits" in err


# ---- grad --------------------------------------------------------------------------------------------------------
def test_grad_json_keys_values_and_code_on_the_seed_numbers(capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    rc, out, err = run(capsys, "grad", "a'*X*b", "--wrt", "X", "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    assert list(doc) == ["input", "kind", "wrt", "seed", "shapes", "kinds", "shape", "layout", "derivative", "latex",
                         "equation", "numpy", "check"]
    assert doc["input"] == "a'*X*b" and doc["wrt"] == ["X"] and doc["seed"] is None and doc["kind"] == "gradient"
    assert doc["shape"] == {"X": ["n", "m"]}
    assert doc["kinds"]["X"] == {"kind": "matrix", "how": "default: upper-case names"}
    assert doc["derivative"] == {"X": "a*b'"}
    assert doc["latex"] == {"X": r"a b^{\top}"}
    assert doc["equation"]["X"].endswith(r"= a b^{\top}")
    assert doc["shapes"] == {"a": ["n", "1"], "X": ["n", "m"], "b": ["m", "1"]}
    chk = doc["check"]
    assert chk["ok"] is True and chk["dps"] == 30 and chk["digits_mpmath"]["X"] >= 20
    assert chk["digits_numpy"]["X"] >= 8
    assert_only_numpy(doc["numpy"])
    mod = load_source(tmp_path, doc["numpy"])
    got = mod.grad_X(SEED_A, SEED_X, SEED_B)
    np.testing.assert_array_equal(got, SEED_XGRAD)
    np.testing.assert_array_equal(got, np.outer(SEED_A, SEED_B))


def test_grad_json_several_variables_against_the_cookbook(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "grad", "norm2(A*x-y)^2", "--wrt", "x", "--wrt", "A", "--format", "json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["wrt"] == ["x", "A"] and list(doc["derivative"]) == ["x", "A"] and list(doc["latex"]) == ["x", "A"]
    assert list(doc["check"]["digits_mpmath"]) == ["x", "A"]
    mod = load_source(tmp_path, doc["numpy"])
    rng = np.random.default_rng(5)
    A, x, y = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(4)
    gx, gA = mod.grad_x_A(A, x, y)
    r = A @ x - y
    np.testing.assert_allclose(gx, 2 * A.T @ r, rtol=1e-12)            # Cookbook: d‖Ax−y‖²/dx = 2Aᵀ(Ax−y)
    np.testing.assert_allclose(gA, 2 * np.outer(r, x), rtol=1e-12)     # d‖Ax−y‖²/dA = 2(Ax−y)xᵀ


def test_grad_with_a_seed_of_ones_gives_the_tutorials_numbers(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "grad", "A*X", "--wrt", "X", "--seed", "matrix(1)", "--format", "json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["seed"] is not None
    mod = load_source(tmp_path, doc["numpy"])
    A, X = np.array([[1.0, 2], [3, 4]]), np.array([[1.0, 2, 3], [4, 5, 6]])
    got = mod.vjp_X(A, X)
    np.testing.assert_array_equal(got, [[4, 4, 4], [6, 6, 6]])
    np.testing.assert_array_equal(got, A.T @ np.ones((2, 3)))


def test_grad_with_a_seed_symbol_and_a_where_clause(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "grad", "tanh(X*W')", "--wrt", "W", "--seed", "G", "--format", "numpy")
    assert rc == 0
    mod = load_source(tmp_path, out)
    rng = np.random.default_rng(2)
    X, W, G = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal((5, 2))
    T = np.tanh(X @ W.T)
    np.testing.assert_allclose(mod.vjp_W(X, W, G), ((1 - T**2) * G).T @ X, rtol=1e-12)

    rc, out, _ = run(capsys, "grad", "x'*S*x", "--where", "S: symmetric", "--wrt", "x", "--format", "numpy",
                     "--name", "g")
    assert rc == 0
    mod = load_source(tmp_path, out, "sym")
    S = rng.standard_normal((3, 3))
    S = S + S.T
    x = rng.standard_normal(3)
    np.testing.assert_allclose(mod.g(x, S), 2 * S @ x, rtol=1e-12)      # Cookbook: 2Sx for symmetric S


def test_grad_text_and_latex_formats(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "grad", "a'*X*b", "--wrt", "X", "--format", "text")
    assert (rc, out) == (0, "a*b'\n")
    rc, out, _ = run(capsys, "grad", "logdet(X)", "--wrt", "X", "--format", "latex")
    assert (rc, out) == (0, "X^{-\\top}\n")
    rc, out, _ = run(capsys, "grad", "a'*X*b", "--wrt", "a,b", "--format", "text")
    assert (rc, out.splitlines()) == (0, ["X*b", "X'*a"])


def test_grad_default_output_has_every_part(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "grad", "a'*X*b", "--wrt", "X")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == ["input", "a'*X*b"]
    assert any(ln.split() == ["df/dX", "a*b'"] for ln in lines)
    assert r"\frac{\partial}{\partial X} \left( a^{\top} X b \right) = a b^{\top}" in out
    assert re.search(r"^check +certified: \d+ digits \(mpmath, dps 30\)", out, re.M)
    assert "    def grad_X(a, X, b):" in out


def test_grad_without_wrt_takes_every_symbol_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "grad", "a'*X*b", "--format", "json", "--no-check")
    doc = json.loads(out)
    assert rc == 0 and doc["wrt"] == ["a", "X", "b"] and doc["check"] is None


def test_grad_exit_1_when_the_certificate_fails(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _break_the_engine(monkeypatch)
    rc, out, err = run(capsys, "grad", "a'*X*b", "--wrt", "X")
    assert rc == 1
    assert "FAILED" in out and "certificate FAILED for d/dX" in err


def _break_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the command's md.check certify twice the true derivative: a wrong formula it must reject."""
    real = md.check

    def wrong(f: Any, wrt: Any, **kw: Any) -> Any:
        seed = kw.get("seed")
        good = md.grad(f, wrt) if seed is None else md.vjp(f, wrt, seed)
        return real(f, wrt, grad=[2 * g for g in good], **kw)
    monkeypatch.setattr(app_derive, "check", wrong)  # every command certifies through matderiv.app.derive


# ---- errors: one line on stderr, exit 2, never a traceback -------------------------------------------------------
def test_parse_error_has_the_caret_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "grad", "a'*X*b +", "--wrt", "X")
    assert rc == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("matderiv: error: ") and "column 9" in lines[0]
    assert lines[1].strip() == "a'*X*b +"
    assert lines[2].index("^") - lines[1].index("a") == 9 - 1      # under column 9, the missing operand
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, needle", [
    (["grad", "det(x)"], "square"),                                     # shape error
    (["grad", "A*X"], "--seed"),                                        # a matrix needs a seed
    (["grad", "a'*X*b", "--wrt", "Z"], "no symbol 'Z'"),
    (["grad", "a'*X*b", "--wrt", "X", "--wrt", "X"], "twice"),
    (["grad", "x", "--seed", "matrix(1)"], "vector(1)"),               # the seed cannot have x's shape
    (["latex", "a'*X*"], "column"),
    (["code", "a'*X*b", "--wrt", "X", "--name", "class"], "class"),    # not a valid function name
    (["check", "a'*X*b", "--wrt", "X", "--grad", "a*c'"], "does not have"),
    (["check", "a'*X*b", "--wrt", "X", "--grad", "b*a'"], "--grad"),   # wrong shape
    (["table", "no/such/file.txt"], "no/such/file.txt"),
])
def test_errors_exit_2_with_one_clear_message(capsys: pytest.CaptureFixture[str], argv: list[str],
                                              needle: str) -> None:
    rc, out, err = run(capsys, *argv)
    assert rc == 2, (out, err)
    assert err.startswith("matderiv: error: ") and needle in err and "Traceback" not in err


# ---- check and latex ---------------------------------------------------------------------------------------------
def test_check_certifies_and_a_wrong_hand_written_gradient_fails(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "check", "logdet(X)", "--wrt", "X", "--dps", "40", "--rng", "3")
    assert rc == 0
    assert re.search(r"certified: \d+ digits \(mpmath, dps 40\).*rng 3", out)
    rc, out, _ = run(capsys, "check", "x'*A*x", "--wrt", "x", "--grad", "(A + A')*x")   # Cookbook (81)
    assert rc == 0 and "certified" in out
    rc, out, _ = run(capsys, "check", "x'*A*x", "--wrt", "x", "--grad", "2*A*x")        # only for symmetric A
    assert rc == 1 and "FAILED" in out


def test_latex(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "latex", "a'*X*b")
    assert (rc, out) == (0, "a^{\\top} X b\n")
    rc, out, _ = run(capsys, "latex", "a'*X*b", "--wrt", "X")
    assert (rc, out) == (0, "\\frac{\\partial}{\\partial X} \\left( a^{\\top} X b \\right) = a b^{\\top}\n")


# ---- code --------------------------------------------------------------------------------------------------------
def test_code_writes_an_importable_module(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "lsq.py"
    rc, out, _ = run(capsys, "code", "norm2(A*x-y)^2", "--wrt", "x", "-o", str(path))
    assert rc == 0 and str(path) in out
    assert_only_numpy(path.read_text(encoding="utf-8"))
    mod = load(path, "lsq")
    rng = np.random.default_rng(7)
    A, x, y = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(5)
    assert mod.f(A, x, y) == pytest.approx(float(np.sum((A @ x - y) ** 2)), rel=1e-13)
    np.testing.assert_allclose(mod.grad_f(A, x, y), 2 * A.T @ (A @ x - y), rtol=1e-12)
    assert mod.__doc__ and "norm2(A*x - y)^2" in mod.__doc__.replace("norm2(A*x-y)", "norm2(A*x - y)")


def test_code_to_stdout_with_a_name_and_several_variables(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "code", "a'*X*b", "--wrt", "a,X", "--name", "bilinear")
    assert rc == 0
    mod = load_source(tmp_path, out, "bilinear_mod")
    assert mod.bilinear(SEED_A, SEED_X, SEED_B) == pytest.approx(SEED_A @ SEED_X @ SEED_B)
    ga, gX = mod.grad_bilinear(SEED_A, SEED_X, SEED_B)
    np.testing.assert_array_equal(ga, SEED_X @ SEED_B)
    np.testing.assert_array_equal(gX, SEED_XGRAD)


# ---- demo --------------------------------------------------------------------------------------------------------
def test_demo_prints_the_seed_numbers_and_certifies(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "demo")
    assert rc == 0
    assert out.count("[[2, 3, 4], [4, 6, 8], [6, 9, 12], [8, 12, 16]]") == 2     # computed, and the tutorial's
    assert out.count("[[4, 4, 4], [6, 6, 6]]") == 2
    assert out.count("equal ✓") == 2
    assert "FAILED" not in out and out.rstrip().endswith("all four certified")
    for name in ("W1", "b1", "W2", "b2", "W3", "b3"):
        assert re.search(rf"d<G, f>/d{name} +\S", out), name


# ---- table -------------------------------------------------------------------------------------------------------
def _cells(row: str) -> list[str]:
    """A Markdown table row's cells, split at the pipes that are not escaped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_table_from_a_small_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "ids.txt"
    src.write_text("# comment\n\n## Norms\nnorm2(x - a) ; wrt x\n\n## VJPs\ninv(A) ; wrt A ; seed G\n"
                   "x'*S*x where S: symmetric ; wrt x\n", encoding="utf-8")
    dst = tmp_path / "ids.md"
    rc, out, _ = run(capsys, "table", str(src), "-o", str(dst))
    assert rc == 0 and "wrote" in out
    page = dst.read_text(encoding="utf-8")
    assert "## Norms" in page and "## VJPs" in page
    rows = [ln for ln in page.splitlines() if ln.startswith("| $")]
    assert len(rows) == 3
    for row in rows:
        cells = _cells(row)
        assert len(cells) == 4, row
        assert all(c.startswith("$") for c in cells[:3]) and int(cells[3]) >= 20
    assert r"\Vert" in rows[0] and "|" not in rows[0].replace("| ", "").replace(" |", "")
    assert r"\left\langle G, A^{-1} \right\rangle" in rows[1]
    assert r"S = S^{\top}" in rows[2]
    # stdout without -o, byte for byte the same page
    rc, out, _ = run(capsys, "table", str(src))
    assert rc == 0 and out == page


@pytest.mark.parametrize("line, needle", [
    ("a'*X*b ; X", "ids.txt:2"),                     # no 'wrt'
    ("a'*X*b ; wrt X ; sed G", "ids.txt:2"),         # unknown field
    ("a'*X*b + ; wrt X", "ids.txt:2"),               # parse error in a row
])
def test_table_bad_lines_exit_2_naming_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                line: str, needle: str) -> None:
    src = tmp_path / "ids.txt"
    src.write_text(f"tr(X) ; wrt X\n{line}\n", encoding="utf-8")
    rc, _, err = run(capsys, "table", str(src))
    assert rc == 2 and needle in err and err.startswith("matderiv: error: ")


def test_table_failing_row_exits_1_names_it_and_writes_nothing(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "ids.txt"
    src.write_text("tr(X) ; wrt X\n", encoding="utf-8")
    dst = tmp_path / "out.md"
    _break_the_engine(monkeypatch)
    rc, _, err = run(capsys, "table", str(src), "-o", str(dst))
    assert rc == 1 and "ids.txt:1: certificate FAILED" in err and not dst.exists()


def test_identities_page_does_not_drift(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """docs/identities.md is exactly what `matderiv table docs/identities.txt` prints now."""
    src, committed = ROOT / "docs" / "identities.txt", ROOT / "docs" / "identities.md"
    fresh = tmp_path / "identities.md"
    rc, _, err = run(capsys, "table", str(src), "-o", str(fresh))
    assert rc == 0, err
    rows = [ln for ln in fresh.read_text(encoding="utf-8").splitlines() if ln.startswith("| $")]
    assert len(rows) >= 40
    assert all(len(_cells(r)) == 4 for r in rows)
    assert fresh.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
        "docs/identities.md drifted from the tool's output; regenerate it with\n"
        "    matderiv table docs/identities.txt -o docs/identities.md")


def test_identities_list_covers_the_required_families() -> None:
    items = table.read_rows(str(ROOT / "docs" / "identities.txt"))
    sections = [i for i in items if isinstance(i, str)]
    rows = [i for i in items if not isinstance(i, str)]
    assert len(rows) >= 40
    for word in ("determinants", "inverses", "quadratic", "traces", "norms", "Giles", "losses"):
        assert any(word in s for s in sections), word
    assert sum(r.seed is not None for r in rows) >= 8


def test_an_expression_starting_with_a_minus_is_not_an_option(capsys: pytest.CaptureFixture[str]) -> None:
    # cross-entropy −yᵀ log softmax(Wx): ∂/∂W = (softmax(Wx) 1ᵀy − y) xᵀ (log softmax z = z − logsumexp z)
    for argv in (["grad", "-y'*log(softmax(W*x))", "--wrt", "W", "--format", "text", "--no-check"],
                 ["grad", "--wrt", "W", "-y'*log(softmax(W*x))", "--format", "text", "--no-check"]):
        rc, out, err = run(capsys, *argv)
        assert rc == 0, err
        assert out.strip() == "(sum(y)*softmax(W*x) - y)*x'"
    rc, out, _ = run(capsys, "grad", "x'*x", "--wrt", "x", "--seed", "-1", "--format", "text", "--no-check")
    assert rc == 0 and out.strip() == "-2*x"  # an option's value that starts with '-' stays the option's


def test_a_long_derivative_is_shown_again_with_its_repeated_parts_named(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "grad", "sum(sigmoid(W2*relu(W1*x+b1)+b2))", "--wrt", "W1", "--no-check")
    assert rc == 0
    lines = [line.strip() for line in out.splitlines()]
    i = lines.index("= (W2'*(t1 .* (1 - t1))) .* step(t0)*x'")
    assert lines[i + 1:i + 3] == ["where t0 = W1*x + b1", "t1 = sigmoid(W2*relu(t0) + b2)"]
    rc, out, _ = run(capsys, "grad", "a'*X*b", "--wrt", "X", "--no-check")
    assert "where" not in out  # short results are shown once


def test_a_hand_written_gradient_of_the_wrong_shape_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "check", "x'*A*x", "--wrt", "x", "--grad", "2*A")
    assert rc == 2 and "--grad '2*A' must have x's shape n×1, got n×n" in err


def test_check_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "check", "x'*A*x", "--wrt", "x", "--grad", "2*A*x", "--format", "json", "--dps", "30")
    data = json.loads(out)
    assert rc == 1 and data["check"]["ok"] is False and data["check"]["digits_mpmath"]["x"] < 3  # 2Ax needs A = Aᵀ
    rc, out, _ = run(capsys, "check", "x'*A*x", "--wrt", "x", "--format", "json", "--dps", "30")
    data = json.loads(out)
    assert rc == 0 and data["check"]["ok"] is True and data["derivative"]["x"].startswith("(A + A')*x")


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["grad", "x'*x", "--wrt", "x", "--dps", "5"], ["frob"], ["grad"]):
        rc, out, err = run(capsys, *argv)
        assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--help" in err
