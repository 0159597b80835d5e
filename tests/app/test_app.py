"""The application layer: the command, the demo and the table share one module (matderiv.app.derive), print
``CheckReport.summary`` as their certificate line, and no module of the package imports the package facade.

Source facts are read with ``ast`` from the files themselves; behaviour is checked by running the command
in-process and comparing with certificates made directly with ``md.check``.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

import matderiv as md
from matderiv import api
from matderiv.app import cli, demo, derive, table

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "matderiv"
APP = PKG / "app"
SHARED = ("Derivation", "derive", "certify", "parse_with_seed", "order_symbols", "split_names", "with_where",
          "numpy_source", "merge_modules", "module_source", "grad_name", "show", "shapes_line", "parse_candidate",
          "cert_line", "digits_of")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every import of the file as (absolute module, imported names); ``import a.b`` gives ("a.b", [])."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((module, [a.name for a in node.names]))
    return out


def _is_submodule(module: str, name: str) -> bool:
    base = PKG.parent.joinpath(*module.split("."), name)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


# ---- one shared module -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [APP / "cli.py", APP / "demo.py", APP / "table.py"], ids=lambda p: p.name)
def test_the_command_demo_and_table_define_none_of_the_shared_logic(path: Path) -> None:
    defined = {n.name for n in _tree(path).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert not defined & set(SHARED), f"{path.name} defines {sorted(defined & set(SHARED))}; they belong in derive.py"
    src = path.read_text(encoding="utf-8")
    assert "fmt_digits" not in src and "digits (mpmath" not in src, f"{path.name} formats certificates itself"


def test_what_they_use_is_the_shared_modules_own() -> None:
    assert cli.derive is demo.derive is table.derive is derive.derive
    assert cli.certify is demo.certify is table.certify is derive.certify
    assert demo.Derivation is table.Derivation is derive.Derivation
    assert cli.numpy_source is demo.numpy_source is derive.numpy_source


def test_the_app_imports_flow_one_way() -> None:
    """derive.py imports none of the command, the demo, the table; the demo and the table import no command."""
    def app_imports(path: Path) -> set[str]:
        found: set[str] = set()
        for module, names in _imports(path):
            if module == "matderiv.app":
                found |= set(names)
            elif module.startswith("matderiv.app."):
                found.add(module.rsplit(".", 1)[1])
        return found
    assert app_imports(APP / "derive.py") == set()
    assert app_imports(APP / "demo.py") == {"derive"}
    assert app_imports(APP / "table.py") == {"derive"}
    assert app_imports(APP / "cli.py") <= {"derive", "demo", "table"}


# ---- the certificate line is the report's own --------------------------------------------------------------------
def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    rc = cli.main(list(argv))
    return rc, capsys.readouterr().out.splitlines()


def test_the_check_command_prints_the_reports_summary(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines = _run(capsys, "check", "a'*X*b", "--wrt", "X")
    report = md.check(md.parse("a'*X*b"), ["X"], dps=50, rng=0)       # the command's defaults: dps 50, rng 0
    assert rc == 0 and lines[0].split() == ["df/dX", "a*b'"]
    assert lines[1].strip() == report.summary("X")
    assert re.fullmatch(r"certified: 50 digits \(mpmath, dps 50\), \d+(\.\d)? digits \(numpy float64\) "
                        r"at n=3, m=4; rng 0", report.summary("X"))


def test_a_failed_certificate_is_the_reports_summary_too(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines = _run(capsys, "check", "x'*A*x", "--wrt", "x", "--grad", "2*A*x", "--rng", "2")
    A, x = md.matrix("A", "n", "n"), md.vector("x", "n")
    report = md.check(x.T @ A @ x, x, grad=2 * A @ x, dps=50, rng=2)
    assert rc == 1 and not report.passed("x")
    assert lines[1].strip() == report.summary("x")
    assert report.summary("x").startswith("FAILED: ") and "needs 40" in report.summary("x")


def test_the_grad_command_and_the_readme_print_the_same_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines = _run(capsys, "grad", "norm2(A*x-y)^2", "--wrt", "x")
    summary = md.check(md.parse("norm2(A*x-y)^2"), ["x"], dps=30, rng=0).summary("x")
    assert rc == 0 and f"check   {summary}" in lines
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"^check   (certified: .*)$", readme, re.M)
    assert shown is not None
    pattern = r"certified: 30 digits \(mpmath, dps 30\), \d+(\.\d)? digits \(numpy float64\) at n=3, m=4; rng 0"
    assert re.fullmatch(pattern, shown.group(1)) and re.fullmatch(pattern, summary)


def test_the_demo_prints_each_reports_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[derive.Derivation] = []

    def recording(d: derive.Derivation, *args: Any, **kw: Any) -> bool:
        seen.append(d)
        return derive.certify(d, *args, **kw)
    monkeypatch.setattr(demo, "certify", recording)
    lines: list[str] = []
    assert demo.run_demo(lines.append) == 0
    printed = [ln.strip() for ln in lines if re.match(r"\s+(certified|FAILED): ", ln)]
    expected = [d.report.summary(w.name) for d in seen for w in d.wrt if d.report is not None]
    assert len(seen) == 4 and printed == expected


def test_the_tables_failure_message_is_the_reports_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "ids.txt"
    src.write_text("tr(X) ; wrt X\n", encoding="utf-8")
    reports: list[md.CheckReport] = []
    real = derive.check

    def doubled(f: Any, wrt: Any, **kw: Any) -> md.CheckReport:
        r = real(f, wrt, grad=[2 * g for g in md.grad(f, wrt)], **kw)
        reports.append(r)
        return r
    monkeypatch.setattr(derive, "check", doubled)
    rc = cli.main(["table", str(src)])
    err = capsys.readouterr().err
    assert rc == 1 and len(reports) == 1
    assert f"ids.txt:1: certificate FAILED for tr(X) ; wrt X: {reports[0].summary('X')}\n" in err


# ---- the facade is defined once and imported by no module of the package -----------------------------------------
def test_no_module_imports_the_package_facade() -> None:
    """``import matderiv [as md]``, ``from matderiv import …`` and ``from .. import name`` (a name of the facade, not
    a submodule) are refused everywhere in matderiv/: modules import what they use from the module defining it."""
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT)
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Import) and any(a.name == "matderiv" for a in node.names):
                bad.append(f"{rel}:{node.lineno}: import matderiv")
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module == "matderiv":
                bad.append(f"{rel}:{node.lineno}: from matderiv import ...")
        for module, names in _imports(path):
            if module == "matderiv" and names and not all(_is_submodule("matderiv", n) for n in names):
                bad.append(f"{rel}: imports {', '.join(names)} from the facade")
    assert not bad, bad


def test_the_package_reexports_api_exactly() -> None:
    assert list(md.__all__) == list(api.__all__)
    for name in api.__all__:
        assert getattr(md, name) is getattr(api, name), name
    assert md.__version__ == api.__version__
    assert md.matrix("X", "n", "m").shape == api.matrix("X", "n", "m").shape


def test_the_entry_points_are_the_app_command() -> None:
    toml = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^matderiv = "matderiv\.app\.cli:main"$', toml, re.M)
    assert ("matderiv.app.cli", ["main"]) in _imports(PKG / "__main__.py")
    assert not (PKG / "cli.py").exists() and not (PKG / "demo.py").exists() and not (PKG / "table.py").exists()
