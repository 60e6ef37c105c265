"""`dlbook check` and `dlbook golden` on the mini fixture, and `dlbook check` on the real book."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from conftest import run_cli

from dlbook_utils.bookbuild.project import check_project, colab_cell_source

OK = "lessons/01_part/01_ok"


def test_golden_then_check_passes_and_detects_drift(mini: Path) -> None:
    assert run_cli("build", "--no-html", cwd=mini).returncode == 0
    res = run_cli("golden", cwd=mini)
    assert res.returncode == 0, res.stderr
    nb = nbformat.read(mini / f"{OK}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert any("N = 3" in o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert not any("papermill" in c.metadata or "execution" in c.metadata for c in nb.cells)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert check_project(mini) == []

    md = mini / f"{OK}.md"
    md.write_text(md.read_text().replace('print("N =", N', 'print("N is", N'))
    problems = check_project(mini)
    assert problems == [f"{OK}.md and 01_ok.ipynb disagree on cell sources; rebuild the pair "
                        "with `dlbook build` and `dlbook golden`."]
    stale = run_cli("golden", "01_ok", cwd=mini)
    assert stale.returncode == 1 and "older than the source" in stale.stderr


def test_golden_refuses_a_parameterised_run(mini: Path) -> None:
    assert run_cli("build", "--no-html", "-p", "N", "5", cwd=mini).returncode == 0
    res = run_cli("golden", "01_ok", cwd=mini)
    assert res.returncode == 1 and "golden outputs come from the defaults" in res.stderr
    assert not (mini / f"{OK}.ipynb").exists()


def test_check_finds_structural_problems_and_fixes_colab_cells(mini: Path) -> None:
    (mini / "lessons" / "01_part" / "03_orphan.md").write_text((mini / f"{OK}.md").read_text())
    md = mini / "lessons" / "01_part" / "02_params.md"
    md.write_text(md.read_text().replace(":tags: [parameters]\n", "").replace("example/mini", "someone/else"))
    problems = check_project(mini)
    joined = "\n".join(problems)
    assert "lessons/01_part/03_orphan.md is not in _toc.yml." in problems
    assert "02_params.md: the first code cell is not tagged `parameters`." in joined
    assert "02_params.md: the Colab setup cell does not match repository.url" in joined
    assert "01_ok.md has no paired 01_ok.ipynb" in joined
    check_project(mini, fix=True)
    assert colab_cell_source(mini) in md.read_text()
    assert "Colab setup cell does not match" not in "\n".join(check_project(mini))
    res = run_cli("check", cwd=mini)
    assert res.returncode == 1 and "✗" in res.stdout


def test_real_book_passes_check(root: Path) -> None:
    res = run_cli("check", cwd=root)
    assert res.returncode == 0, res.stdout


def test_environment_yml_installs_the_same_package(root: Path) -> None:
    import tomllib
    import yaml

    env = yaml.safe_load((root / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-r requirements/lock.txt" in pip and "-e .[book,test]" in pip
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert python.split("=")[-1] in {"3.11"} and project["requires-python"] == ">=3.10"
    lock = {ln.split("==")[0].lower() for ln in (root / "requirements/lock.txt").read_text().split()
            if "==" in ln}
    wanted = project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]
    import re

    names = {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in wanted}
    missing = sorted(n for n in names if n not in lock)
    assert not missing, f"pyproject dependencies missing from requirements/lock.txt: {missing}; run `make lock`"
    json.dumps(env)  # environment.yml is plain data


def test_golden_notebooks_have_outputs_and_errors_only_where_tagged(root: Path) -> None:
    """A golden copy is a real run: it has outputs, and an error output only in a cell tagged
    `raises-exception` (the errata boxes that show the notes' code failing)."""
    from dlbook_utils.bookbuild.project import toc_lessons

    for md in toc_lessons(root):
        nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert any(c.outputs for c in code), f"{md.name}: golden copy has no outputs"
        for i, cell in enumerate(code, 1):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            tagged = "raises-exception" in cell.metadata.get("tags", [])
            assert not errors or tagged, f"{md.name}: code cell {i} holds an untagged error"
