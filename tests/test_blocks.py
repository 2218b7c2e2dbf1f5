"""Every catalog entry renders, stands alone with only torch, and passes its own tests.

All entries are rendered into one empty directory and their rendered test files
run in one fresh interpreter (one torch start-up); each entry then reports its
own results. ``pytest tests/test_blocks.py -k sk`` renders and runs only sk.
"""

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import black
import pytest

from plugforge.catalog.spec import load_catalog
from plugforge.rendering.render import render

ALLOWED_IMPORTS = {"torch", "torch.nn", "torch.nn.functional", "math"}
SPECS = load_catalog().specs


def rendered(spec):
    return render(spec, spec.defaults())


@pytest.fixture(scope="session")
def rendered_results(request, tmp_path_factory):
    """Render the selected entries, run their tests once, map test file -> [(test, failure)]."""
    selected = {item.callspec.params["spec"].id for item in request.session.items if item.originalname == "test_rendered_tests_pass"}
    out = tmp_path_factory.mktemp("blocks")
    for spec in SPECS:
        if spec.id in selected:
            files = rendered(spec)
            (out / f"{spec.module}.py").write_text(files.block)
            (out / f"test_{spec.module}.py").write_text(files.tests)
    report = out / "report.xml"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", str(out)],
        cwd=out, capture_output=True, text=True, env=env,
    )  # fmt: skip
    if not report.exists():
        pytest.fail(f"rendered tests did not run:\n{run.stdout}\n{run.stderr}")
    results = {}
    for case in ET.parse(report).iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        message = None if problem is None else (problem.get("message") or "") + "\n" + (problem.text or "")
        results.setdefault(case.get("classname").split(".")[-1], []).append((case.get("name"), message))
    return results


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_rendered_tests_pass(spec, rendered_results):
    results = rendered_results.get(f"test_{spec.module}")
    assert results, f"no rendered test of {spec.id} ran"
    failures = [f"{name}: {message}" for name, message in results if message]
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_rendered_files_import_only_torch_and_math(spec):
    files = rendered(spec)
    for text in (files.block,):
        imported = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported |= {f"{node.module}.{alias.name}" if node.module == "torch" else node.module for alias in node.names}
        assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS
    test_imports = {n.module for n in ast.walk(ast.parse(files.tests)) if isinstance(n, ast.ImportFrom)}
    assert test_imports - {"torch"} == {spec.module}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_rendered_files_are_black_stable_and_reproducible(spec):
    first, second = rendered(spec), rendered(spec)
    assert first == second
    for text in (first.block, first.tests):
        assert black.format_str(text, mode=black.Mode()) == text


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_rendered_block_has_no_debris(spec):
    block = rendered(spec).block
    tree = ast.parse(block)
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "print" not in calls
    assert ".cuda()" not in block and "TODO" not in block
    defined = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
    assert spec.class_name in {d.name for d in defined}
    for definition in defined:
        assert ast.get_docstring(definition), f"{definition.name} has no docstring"
    main = next(d for d in defined if d.name == spec.class_name)
    assert spec.paper.link in ast.get_docstring(main)
