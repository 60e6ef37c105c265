"""The project on disk: root, lessons in the toc, MyST/ipynb pairs, checks and golden outputs."""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import yaml

__all__ = [
    "ProjectError",
    "find_root",
    "read_toc",
    "toc_files",
    "toc_lessons",
    "all_lesson_sources",
    "resolve_lesson",
    "read_lesson",
    "repository_url",
    "colab_cell_source",
    "check_project",
    "contract_problems",
    "MAX_CODE_LINE",
    "write_golden",
    "atomic_write_text",
    "strip_cell_metadata",
    "COLAB_MARKER",
]

COLAB_MARKER = "# dlbook: colab-setup"
_DROP_CELL_META = ("papermill", "execution", "ExecuteTime", "scrolled", "collapsed")


class ProjectError(ValueError):
    """A problem with the project's files, stated in one sentence."""


def find_root(start: Path | None = None) -> Path:
    """Return the closest folder at or above ``start`` (default: cwd) that holds ``_toc.yml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    raise ProjectError(
        f"No dlbook project (a folder with _toc.yml and _config.yml) at or above {here}; "
        "run dlbook from inside the repository."
    )


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _toc_entries(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(str(node["file"]))
        for key in ("root", "parts", "chapters", "sections"):
            if key == "root" and key in node:
                out.append(str(node["root"]))
            elif key in node:
                out.extend(_toc_entries(node[key]))
    elif isinstance(node, list):
        for item in node:
            out.extend(_toc_entries(item))
    return out


def read_toc(root: Path) -> dict[str, Any]:
    """``_toc.yml`` as parsed YAML (an empty dict for an empty file)."""
    return yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")) or {}


def toc_files(root: Path) -> list[str]:
    """Every document named in ``_toc.yml`` (without suffix), in book order."""
    return _toc_entries(read_toc(root))


def toc_lessons(root: Path) -> list[Path]:
    """The lesson sources (``lessons/**.md``) named in ``_toc.yml``, in book order."""
    return [root / f"{f}.md" for f in toc_files(root) if f.startswith("lessons/")]


def all_lesson_sources(root: Path) -> list[Path]:
    """Every ``lessons/**/*.md`` on disk, sorted."""
    return sorted((root / "lessons").glob("**/*.md"))


def resolve_lesson(root: Path, name: str) -> Path:
    """Find a lesson by path (``lessons/…/x.md`` or ``.ipynb``) or by a unique slug (``02_tensors``).

    Raises:
        ProjectError: no lesson or several lessons match; the message lists what exists.
    """
    p = Path(name)
    for cand in (p, root / p):
        if cand.suffix in (".md", ".ipynb") and cand.with_suffix(".md").is_file():
            return cand.with_suffix(".md").resolve()
    lessons = toc_lessons(root)
    hits = [les for les in lessons if name in (les.stem, str(les.relative_to(root).with_suffix("")))]
    if not hits:
        hits = [les for les in lessons if name in les.stem]
    if len(hits) == 1:
        return hits[0]
    known = ", ".join(les.stem for les in lessons) or "none"
    what = "matches several lessons" if hits else "is not a lesson"
    raise ProjectError(f"{name!r} {what}; lessons in _toc.yml: {known}.")


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _yaml_problem(exc: yaml.YAMLError, offset: int = 0) -> tuple[int | None, str]:
    """The 0-based line and the one-line problem of a YAML error.

    ``offset`` is added to the lines YAML counts (where its text starts in the file). When the
    error is found on a later line than the construct it belongs to (an unclosed ``[``), the
    problem names the line where that construct starts.
    """
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    ctx, ctx_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if ctx and ctx_mark is not None and (mark is None or ctx_mark.line != mark.line):
        what = ctx.removeprefix("while parsing ").removeprefix("while scanning ")
        what = what.removeprefix("a ").removeprefix("an ")
        problem += f" (in the {what} that starts on line {ctx_mark.line + 1 + offset})"
    return (mark.line if mark is not None else None), problem


def read_lesson(md: Path, shown: str | None = None) -> nbformat.NotebookNode:
    """Read a MyST lesson into a notebook (jupytext); ``shown`` names it in messages.

    Raises:
        ProjectError: the file does not parse; the message names the file, the line (for a
            header or cell-option YAML error) and what is wrong.
    """
    md = Path(md)
    text = md.read_text(encoding="utf-8")
    lines = text.splitlines()
    shown = shown or _shown(md)
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            raise ProjectError(f"{shown}, line 1: the header's opening --- has no closing ---.")
        try:
            yaml.safe_load("\n".join(lines[1:end]))
        except yaml.YAMLError as exc:
            line, problem = _yaml_problem(exc, offset=1)
            at = f", line {line + 2}" if line is not None else ""
            raise ProjectError(
                f"{shown}{at}: the header (between the --- lines) is not valid YAML: {problem}."
            ) from None
    try:
        return jupytext.reads(text, fmt="md:myst")
    except yaml.YAMLError as exc:
        _, problem = _yaml_problem(exc)
        raise ProjectError(
            f"{shown}: the options of a code cell (the `:key: value` lines after "
            f"```{{code-cell}}) are not valid YAML: {problem}."
        ) from None
    except Exception as exc:  # noqa: BLE001 - any parse failure becomes one sentence
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ProjectError(
            f"{shown} does not parse as a MyST notebook: {type(exc).__name__}: {first}".rstrip(". ")
            + "."
        ) from None


def repository_url(root: Path) -> str:
    """The ``repository.url`` of ``_config.yml``: the one source of the Colab links."""
    cfg = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    url = ((cfg.get("repository") or {}).get("url") or "").rstrip("/")
    if not url:
        raise ProjectError("_config.yml has no repository.url; set it to the book's GitHub URL.")
    return url


def colab_cell_source(root: Path) -> str:
    """The exact source of every lesson's Colab setup cell, derived from ``repository.url``."""
    url = repository_url(root)
    return (
        f"{COLAB_MARKER}: installs the helpers, in Colab only\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "dlbook @ git+{url}.git"'
    )


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def strip_cell_metadata(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop execution metadata (papermill, timing) from every cell, in place; return ``nb``."""
    for cell in nb.cells:
        for key in _DROP_CELL_META:
            cell.metadata.pop(key, None)
    for key in ("papermill", "widgets", "language_info"):
        nb.metadata.pop(key, None)
    return nb


@dataclass
class _Fix:
    path: Path
    text: str


def check_project(root: Path, fix: bool = False) -> list[str]:
    """Verify the lesson files; return one sentence per problem (empty list = all good).

    Checks: every lesson in ``_toc.yml`` exists and every ``lessons/**.md`` is in the toc; each
    ``.md`` has an ``.ipynb`` pair with identical cell types and sources; the first code cell is
    tagged ``parameters`` and sets ``DEVICE``; the second code cell is the Colab setup cell for
    ``repository.url``; the mechanical rules of the lesson contract (:func:`contract_problems`).
    With ``fix=True`` wrong Colab cells are rewritten (in both files).
    """
    problems: list[str] = []
    in_toc = toc_lessons(root)
    for f in toc_files(root):
        if not (root / f"{f}.md").is_file() and not (root / f"{f}.ipynb").is_file():
            problems.append(f"_toc.yml names {f}, but neither {f}.md nor {f}.ipynb exists.")
    on_disk = all_lesson_sources(root)
    for md in on_disk:
        if md not in in_toc:
            problems.append(f"{md.relative_to(root)} is not in _toc.yml.")
    expected_colab = colab_cell_source(root)
    # every lesson on disk, in the toc or not yet: a lesson being written is checked too
    for md in [m for m in in_toc if m.is_file()] + [m for m in on_disk if m not in in_toc]:
        rel = md.relative_to(root)
        try:
            nb = read_lesson(md)
        except ProjectError as exc:  # names the file, the line and what is wrong
            problems.append(str(exc))
            continue
        code = _code_cells(nb)
        if not code or "parameters" not in code[0].metadata.get("tags", []):
            problems.append(f"{rel}: the first code cell is not tagged `parameters`.")
        elif not re.search(r"^DEVICE\s*=", code[0].source, re.M):
            problems.append(f"{rel}: the parameters cell does not set DEVICE.")
        colab = code[1] if len(code) > 1 else None
        if colab is None or not colab.source.startswith(COLAB_MARKER):
            problems.append(f"{rel}: the second code cell is not the Colab setup cell.")
        elif colab.source.strip() != expected_colab:
            if fix:
                _fix_colab(md, expected_colab)
            else:
                problems.append(
                    f"{rel}: the Colab setup cell does not match repository.url "
                    f"({repository_url(root)}); run `dlbook check --fix`."
                )
        problems += [f"{rel}: {p}" for p in contract_problems(nb)]
        problems += [f"{rel}: {p}" for p in _doc_link_problems(root, md, set(toc_files(root)))]
        if ".cuda()" in md.read_text(encoding="utf-8"):
            problems.append(f"{rel} calls .cuda(); use dlbook_utils.get_device() and .to(device).")
        ipynb = md.with_suffix(".ipynb")
        if not ipynb.is_file():
            problems.append(f"{rel} has no paired {ipynb.name}; run `dlbook build` then `dlbook golden`.")
            continue
        pair = nbformat.read(ipynb, as_version=4)
        if _sources(read_lesson(md)) != _sources(pair):
            problems.append(
                f"{rel} and {ipynb.name} disagree on cell sources; rebuild the pair with "
                "`dlbook build` and `dlbook golden`."
            )
    return problems


_DOC_LINK = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`<>]+)>?`")


def _doc_link_problems(root: Path, md: Path, documents: set[str]) -> list[str]:
    """``{doc}`` links whose target is not a document of ``_toc.yml`` (a -W build error)."""
    out = []
    for target in dict.fromkeys(_DOC_LINK.findall(md.read_text(encoding="utf-8"))):
        path = Path(target.strip())
        full = root / str(path).lstrip("/") if path.is_absolute() else md.parent / path
        try:
            name = os.path.normpath(full.relative_to(root)).removesuffix(path.suffix or "\0")
        except ValueError:
            name = str(full)
        if name not in documents:
            out.append(f"{{doc}} links to {target}, which is not in _toc.yml (the HTML build "
                       "fails with 'unknown document'); link it once it is, or write its title.")
    return out


MAX_CODE_LINE = 79  # the HTML code column shows about 78 characters before it scrolls
_ADMONITION = re.compile(r"^[ \t]*(:{3,})\{admonition\}[ \t]*(.*)$", re.M)


def _admonitions(markdown: str) -> list[tuple[str, str]]:
    """(title, options text) of every ``:::{admonition}`` in a markdown cell."""
    out = []
    for m in _ADMONITION.finditer(markdown):
        rest = markdown[m.end():].split("\n")
        options = "\n".join(line.strip() for line in rest[1:6]
                            if line.strip().startswith(":") and not line.strip().startswith(m.group(1)))
        out.append((m.group(2).strip(), options))
    return out


def contract_problems(nb: nbformat.NotebookNode) -> list[str]:
    """The mechanical rules of the lesson contract v2 (CONTRIBUTING.md), one sentence each.

    Code lines at most ``MAX_CODE_LINE`` characters; an opening paragraph about the topic,
    not the notes; at most three "Pitfall" boxes; no old-style "Errata" boxes; an "Exercises"
    section with 2-4 hints; a "Sources" note and at most one collapsed "Corrections to the
    source notes" dropdown, both after the exercises.
    """
    problems: list[str] = []
    wide = [(i, n, len(line)) for i, c in enumerate(_code_cells(nb), 1)
            for n, line in enumerate(c.source.splitlines(), 1) if len(line) > MAX_CODE_LINE]
    if wide:
        where = ", ".join(f"cell {i} line {n} ({k} chars)" for i, n, k in wide[:3])
        more = f" and {len(wide) - 3} more" if len(wide) > 3 else ""
        problems.append(f"{len(wide)} code line(s) over {MAX_CODE_LINE} characters: {where}{more}.")
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    body = "\n\n".join(texts)
    opening = next((para for para in re.split(r"\n\s*\n", body)
                    if para.strip() and not para.lstrip().startswith(("#", "(", ":::", "```"))), "")
    if re.search(r"\bnotes\b", opening, re.I):
        problems.append("the opening paragraph talks about the notes; open with why the topic "
                        "matters and put the mapping to the notes in the Sources note.")
    boxes = [(title, opts, i) for i, t in enumerate(texts) for title, opts in _admonitions(t)]
    pitfalls = [b for b in boxes if b[0].lower().startswith("pitfall")]
    if len(pitfalls) > 3:
        problems.append(f"{len(pitfalls)} pitfall boxes; the contract allows at most three "
                        "(move notes-specific slips to the Corrections dropdown).")
    if any(b[0].lower().startswith("errata") for b in boxes):
        problems.append("an old-style 'Errata' box; make it a Pitfall box or a line of the "
                        "'Corrections to the source notes' dropdown.")
    ex = next((i for i, t in enumerate(texts) if re.search(r"^##\s+Exercises\s*$", t, re.M)), None)
    if ex is None:
        problems.append("no '## Exercises' section.")
        return problems
    hints = [b for b in boxes if b[2] >= ex and b[0].lower().startswith("hint")]
    if not 2 <= len(hints) <= 4:
        problems.append(f"{len(hints)} exercise hints; the contract asks for 2-4 exercises, "
                        "each with a Hint dropdown.")
    if any("dropdown" not in b[1] for b in hints):
        problems.append("an exercise hint is not a dropdown (`:class: dropdown`).")
    if not any(b[0].lower().startswith("sources") and b[2] >= ex for b in boxes):
        problems.append("no 'Sources' note after the exercises (which sections of the notes "
                        "the lesson mirrors).")
    corrections = [b for b in boxes if b[0].lower().startswith("corrections to the source notes")]
    if len(corrections) > 1:
        problems.append(f"{len(corrections)} 'Corrections to the source notes' boxes; use one.")
    for title, opts, i in corrections:
        if i < ex or "dropdown" not in opts:
            problems.append("the 'Corrections to the source notes' box must be a collapsed "
                            "dropdown after the exercises.")
    return problems


def _fix_colab(md: Path, expected: str) -> None:
    """Rewrite the Colab cell of ``md`` (and of its ``.ipynb`` pair, outputs kept)."""
    text = md.read_text(encoding="utf-8")
    pattern = re.compile(
        r"(```\{code-cell\}[^\n]*\n(?::[^\n]*\n)*\n?)" + re.escape(COLAB_MARKER) + r".*?(\n```)",
        re.S,
    )
    new, n = pattern.subn(lambda m: m.group(1) + expected + m.group(2), text, count=1)
    if n:
        atomic_write_text(md, new)
    ipynb = md.with_suffix(".ipynb")
    if ipynb.is_file():
        nb = nbformat.read(ipynb, as_version=4)
        for cell in _code_cells(nb):
            if cell.source.startswith(COLAB_MARKER):
                cell.source = expected
                break
        atomic_write_text(ipynb, notebook_text(nb))


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """The one serialisation of a golden notebook (``dlbook golden`` and ``check --fix``):
    one JSON string per cell source, sorted keys, so rewriting a notebook changes only what
    changed."""
    text = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    nbformat.validate(nbformat.reads(text, as_version=4))
    return text


def write_golden(md: Path, executed: nbformat.NotebookNode) -> Path:
    """Write the paired ``.ipynb`` of ``md``: its cells with the outputs of ``executed``.

    ``executed`` is the papermill output of the same source (the injected-parameters cell, if
    any, is skipped). Cell sources must match one to one, or nothing is written.

    Raises:
        ProjectError: the executed notebook does not come from the current source.
    """
    source = read_lesson(md)
    runs = [c for c in executed.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    if _sources(source) != _sources(nbformat.from_dict(dict(executed, cells=runs))):
        raise ProjectError(
            f"The executed copy of {md.name} comes from an older source; run `dlbook build` first."
        )
    golden = copy.deepcopy(source)
    for cell, run in zip(golden.cells, runs):
        if cell.cell_type == "code":
            cell.outputs = run.get("outputs", [])
            cell.execution_count = run.get("execution_count")
    strip_cell_metadata(golden)
    golden.metadata.pop("jupytext", None)
    golden.metadata["jupytext"] = {"formats": "ipynb,md:myst"}
    target = md.with_suffix(".ipynb")
    atomic_write_text(target, notebook_text(golden))
    return target
