"""The ``dlbook`` command: build, run, golden, check, kernels, data, bench.

Run ``dlbook --help`` (or ``dlbook COMMAND --help``) for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import yaml

from dlbook_utils.bookbuild import book as bookmod
from dlbook_utils.bookbuild import kernels as kernelmod
from dlbook_utils.bookbuild.params import check_parameter, lesson_parameters
from dlbook_utils.bookbuild.project import (
    ProjectError,
    check_project,
    find_root,
    read_lesson,
    resolve_lesson,
    toc_lessons,
    write_golden,
)
from dlbook_utils.bookbuild.runner import (
    Job,
    Result,
    cache_key,
    executed_path,
    failed_path,
    run_jobs,
)

__all__ = ["main"]


def _params(pairs: list[list[str]] | None) -> dict[str, tuple[Any, str]]:
    """``-p NAME VALUE`` pairs: NAME → (the value read as YAML, the text as typed)."""
    out: dict[str, tuple[Any, str]] = {}
    for name, value in pairs or []:
        if not name.isidentifier():
            raise ProjectError(f"Parameter name {name!r} is not a Python identifier.")
        try:
            parsed = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            parsed = value  # not YAML: the text itself (a string)
        out[name] = (parsed, value)
    return out


def _lesson_params(root: Path, lessons: list[Path], given: dict[str, tuple[Any, str]],
                   strict: bool) -> dict[Path, dict[str, Any]]:
    """The parameters to inject into each lesson, checked before any kernel starts.

    Each lesson gets only the names its parameters cell assigns, each value checked against
    the type of the default there. A name no lesson assigns is rejected with the closest
    match. With ``strict`` (one lesson, ``dlbook run``) a lesson that does not parse is
    reported here; otherwise it is left to fail alone when it runs.
    """
    import difflib

    per_lesson: dict[Path, dict[str, Any]] = {}
    known: dict[str, Any] = {}
    for md in lessons:
        try:
            defaults = lesson_parameters(read_lesson(md))
        except ProjectError:
            if strict:
                raise
            defaults = {}
        per_lesson[md] = {}
        for name, (value, raw) in given.items():
            if name in defaults:
                per_lesson[md][name] = check_parameter(md.stem, name, defaults[name], value, raw)
        known.update(defaults)
    for name in given:
        if name in known:
            continue
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        if len(lessons) == 1:
            listed = ", ".join(known) or "none"
            raise ProjectError(f"Lesson {lessons[0].stem} has no parameter {name}{hint}; its "
                               f"parameters are {listed}.")
        raise ProjectError(f"No lesson of this build has a parameter {name}{hint}; each lesson "
                           "lists its parameters in its first code cell.")
    return per_lesson


def _check_device(device: str) -> None:
    """Stop before executing anything when CUDA is asked for and absent (one sentence)."""
    if device != "cuda":
        return
    from dlbook_utils.device import DeviceUnavailableError, get_device

    try:
        get_device("cuda")
    except DeviceUnavailableError as exc:
        raise ProjectError(str(exc)) from None


def _kernel_installed(name: str) -> bool:
    return (kernelmod.kernel_dir(name) / "kernel.json").is_file()


def _jobs(root: Path, lessons: list[Path], params: dict[Path, dict[str, Any]],
          device: str) -> list[Job]:
    kernel = kernelmod.kernel_for_device(device)
    if not _kernel_installed(kernel):
        raise ProjectError(f"Kernel {kernel} is not installed in {sys.prefix}; run `dlbook kernels install`.")
    return [Job(source=p, rel=str(p.relative_to(root)), parameters=dict(params.get(p, {})),
                kernel=kernel) for p in lessons]


def _describe_failure(r: Result) -> str:
    e = r.error or {}
    where = f"cell {e['cell']} (`{e.get('cell_first_line', '')}`)" if e.get("cell") else "setup"
    keep = " The last good output is kept and shown in the book." if r.stale_output else ""
    what = f"{e.get('ename', '')}: {e.get('evalue', '')}".rstrip()
    end = "" if what.endswith((".", "!", "?")) else "."  # one full stop, not two
    return f"Lesson {r.lesson} failed in {where}: {what}{end}{keep}"


def _execute(root: Path, build: Path, jobs: list[Job], workers: int, use_cache: bool,
             timeout: float | None, progress: bool = True) -> list[Result]:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="lesson", desc="lessons", disable=not progress,
               file=sys.stdout, dynamic_ncols=True)

    def done(r: Result) -> None:
        bar.set_postfix_str(f"{Path(r.lesson).stem}: {'cached' if r.cache_hit else r.status}")
        bar.update(1)

    try:
        return run_jobs(root, build, jobs, workers=workers, use_cache=use_cache,
                        timeout=timeout, on_done=done)
    finally:
        bar.close()


def cmd_build(args: argparse.Namespace) -> int:
    root = find_root()
    build = Path(args.build_dir).resolve() if args.build_dir else root / "_build"
    given = _params(args.param)
    if args.lessons and not args.no_html:
        raise ProjectError("--lessons executes a subset, which makes no book; add --no-html.")
    lessons = [resolve_lesson(root, n) for n in args.lessons] if args.lessons else toc_lessons(root)
    missing = [p for p in lessons if not p.is_file()]
    if missing:
        raise ProjectError(f"_toc.yml names {missing[0].relative_to(root)}, which does not exist.")
    t0 = time.perf_counter()
    if args.from_golden:
        results: list[Result] = []
        notebooks = {}
        for p in lessons:
            nb = p.with_suffix(".ipynb")
            if not nb.is_file():
                raise ProjectError(f"{nb.relative_to(root)} is missing; run `dlbook build` and `dlbook golden`.")
            notebooks[str(p.relative_to(root))] = nb
    else:
        params = _lesson_params(root, lessons, given, strict=False)
        _check_device(args.device)
        _prepare_data(root, args)
        jobs = _jobs(root, lessons, params, args.device)
        results = _execute(root, build, jobs, args.jobs, not args.no_cache, args.timeout)
        notebooks = {}
        for r in results:
            good, bad = executed_path(build, r.lesson), failed_path(build, r.lesson)
            if good.is_file():
                notebooks[r.lesson] = good
            elif bad.is_file():
                notebooks[r.lesson] = bad
        print()
        print(bookmod.report_table(results))
        print(f"report: {bookmod.write_report(build, results)}")
    code = 0
    for r in results:
        if r.status != "ok":
            print(_describe_failure(r), file=sys.stderr)
            code = 1
    missing_nb = [p for p in lessons if str(p.relative_to(root)) not in notebooks]
    if args.no_html:
        print(f"executed in {time.perf_counter() - t0:.1f} s (no HTML: --no-html)")
        return code
    if missing_nb:
        print(f"No notebook to show for {', '.join(str(p.relative_to(root)) for p in missing_nb)}; "
              "the HTML book is not built.", file=sys.stderr)
        return 1
    problems: list[str] = []
    stage_dir = bookmod.stage(root, build, notebooks, results if not args.from_golden else None,
                              problems)
    for problem in problems:  # one damaged notebook: one named failure, every other page builds
        print(problem, file=sys.stderr)
        code = 1
    html_code, index = bookmod.build_html(stage_dir, build, quiet=not args.verbose)
    if html_code != 0:
        print("The HTML book has warnings or errors (see above); Jupyter Book runs with -W.",
              file=sys.stderr)
        code = code or 1
    print(f"book: {index}  ({time.perf_counter() - t0:.1f} s)")
    return code


def _prepare_data(root: Path, args: argparse.Namespace) -> None:
    """Write the offline data sets once (idempotent); a no-op when the data layer is absent."""
    script = root / "data_scripts" / "prepare.py"
    if getattr(args, "no_data", False) or not script.is_file():
        return
    proc = subprocess.run([sys.executable, str(script), "all", "--root", str(root / "data")],
                          cwd=root)
    if proc.returncode != 0:
        raise ProjectError("Preparing the offline data failed (see above); lessons need it.")


def cmd_run(args: argparse.Namespace) -> int:
    root = find_root()
    build = Path(args.build_dir).resolve() if args.build_dir else root / "_build"
    lesson = resolve_lesson(root, args.lesson)
    params = _lesson_params(root, [lesson], _params(args.param), strict=True)
    _check_device(args.device)
    jobs = _jobs(root, [lesson], params, args.device)
    [r] = _execute(root, build, jobs, 1, not args.no_cache, args.timeout, progress=False)
    print(bookmod.report_table([r]))
    if r.status != "ok":
        print(_describe_failure(r), file=sys.stderr)
        print(f"failed notebook: {failed_path(build, r.lesson)}", file=sys.stderr)
        return 1
    print(f"executed notebook: {executed_path(build, r.lesson)}")
    return 0


def cmd_golden(args: argparse.Namespace) -> int:
    root = find_root()
    build = Path(args.build_dir).resolve() if args.build_dir else root / "_build"
    lessons = [resolve_lesson(root, n) for n in args.lessons] if args.lessons else toc_lessons(root)
    code = 0
    for md in lessons:
        rel = str(md.relative_to(root))
        nb_path = executed_path(build, rel)
        meta_path = nb_path.with_name(nb_path.name + ".json")
        if not (nb_path.is_file() and meta_path.is_file()):
            print(f"{rel}: no executed notebook; run `dlbook build` first.", file=sys.stderr)
            code = 1
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        default = Job(source=md, rel=rel, parameters={}, kernel="dlbook-cpu")
        if meta.get("parameters") or meta.get("kernel") != "dlbook-cpu":
            print(f"{rel}: the executed notebook used parameters {meta.get('parameters')} on "
                  f"{meta.get('kernel')}; golden outputs come from the defaults on dlbook-cpu. "
                  "Run `dlbook build` without -p/--device first.", file=sys.stderr)
            code = 1
            continue
        if meta.get("key") != cache_key(root, default):
            print(f"{rel}: the executed notebook is older than the source; run `dlbook build` first.",
                  file=sys.stderr)
            code = 1
            continue
        target = write_golden(md, nbformat.read(nb_path, as_version=4))
        print(f"golden: {target.relative_to(root)}")
    return code


def cmd_check(args: argparse.Namespace) -> int:
    root = find_root()
    problems = check_project(root, fix=args.fix)
    for p in problems:
        print(f"✗ {p}")
    n = len(toc_lessons(root))
    if problems:
        print(f"{len(problems)} problem(s) in {n} lessons.")
        return 1
    print(f"✓ {n} lessons: pairs agree, all in _toc.yml, parameters and Colab cells in place.")
    return 0


def cmd_kernels(args: argparse.Namespace) -> int:
    if args.action == "install":
        for path in kernelmod.install_kernels():
            print(f"installed {path.parent.name}: {path}")
    else:
        for name in kernelmod.KERNELS:
            path = kernelmod.kernel_dir(name) / "kernel.json"
            print(f"{name}: {path if path.is_file() else 'not installed'}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Cold build, no-op rebuild, per-lesson time and memory; then the training-loop benchmark."""
    root = find_root()
    build = root / "_build" / "bench"
    shutil.rmtree(build, ignore_errors=True)
    base = [sys.executable, "-m", "dlbook_utils.bookbuild.cli", "build", "-j", str(args.jobs),
            "--build-dir", str(build)]
    timings = {}
    for label in ("cold", "warm"):
        t0 = time.perf_counter()
        proc = subprocess.run(base, cwd=root)
        timings[label] = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"The {label} build failed (exit {proc.returncode}); timings are not valid.",
                  file=sys.stderr)
            return proc.returncode
    # The rebuild's report: every lesson a cache hit, with the time and memory of its cold run.
    executed = json.loads((build / "report.json").read_text(encoding="utf-8"))
    summary: dict[str, Any] = {
        "cold_build_s": round(timings["cold"], 1),
        "noop_rebuild_s": round(timings["warm"], 1),
        "jobs": args.jobs,
        "lessons": [{"lesson": r["lesson"], "wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"],
                     "cache_hit_on_rebuild": r["cache_hit"]} for r in executed],
    }
    print()
    print(f"cold build (-j {args.jobs}): {summary['cold_build_s']} s   "
          f"no-op rebuild: {summary['noop_rebuild_s']} s")
    for row in summary["lessons"]:
        print(f"  {Path(row['lesson']).stem:32s} {row['wall_s']:6.1f} s  {row['peak_rss_mb']:7.0f} MB")
    if not args.skip_training:
        try:
            from dlbook_utils import bench as trainbench
        except ImportError:
            trainbench = None
        if trainbench is not None:
            summary["training_loop"] = trainbench.main([])
    out = root / "_build" / "bench.json"
    out.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    print(f"saved {out}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Write the offline data sets (``prepare``) or download a real one when online (``fetch``)."""
    root = find_root()
    script = root / "data_scripts" / f"{args.action}.py"
    return subprocess.run([sys.executable, str(script), *args.names, "--root", str(root / "data")],
                          cwd=root).returncode


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dlbook", description="Build, run and check the dlbook lessons.")
    sub = p.add_subparsers(dest="command", required=True)

    def exec_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="override a parameter of the parameters cell (YAML value), repeatable")
        sp.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="kernel to run on: dlbook-cpu (default) or dlbook-cuda")
        sp.add_argument("--no-cache", action="store_true", help="execute even when a cached run matches")
        sp.add_argument("--timeout", type=float, default=600, help="seconds allowed per cell (600)")
        sp.add_argument("--build-dir", help="build folder (default _build)")

    b = sub.add_parser("build", help="execute every lesson in _toc.yml (cached) and build the HTML book")
    exec_opts(b)
    b.add_argument("-j", "--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)),
                   help="lessons executed in parallel (torch threads are split between them)")
    b.add_argument("--from-golden", action="store_true",
                   help="build the HTML from the committed golden notebooks, executing nothing")
    b.add_argument("--no-html", action="store_true", help="execute lessons only")
    b.add_argument("--lessons", nargs="+", metavar="LESSON",
                   help="execute only these lessons (slugs or paths; needs --no-html)")
    b.add_argument("--no-data", action="store_true", help="skip preparing the offline data sets")
    b.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    b.set_defaults(func=cmd_build)

    r = sub.add_parser("run", help="execute one lesson the same way (no HTML)")
    r.add_argument("lesson", help="path or slug, e.g. lessons/01_foundations/02_tensors.md or 02_tensors")
    exec_opts(r)
    r.set_defaults(func=cmd_run)

    g = sub.add_parser("golden", help="copy executed outputs into the paired lessons/**.ipynb")
    g.add_argument("lessons", nargs="*", help="lessons (default: all in _toc.yml)")
    g.add_argument("--build-dir", help="build folder (default _build)")
    g.set_defaults(func=cmd_golden)

    c = sub.add_parser("check", help="pairs agree, toc complete, parameters and Colab cells")
    c.add_argument("--fix", action="store_true", help="rewrite Colab setup cells from _config.yml")
    c.set_defaults(func=cmd_check)

    k = sub.add_parser("kernels", help="install or list the dlbook-cpu and dlbook-cuda kernels")
    k.add_argument("action", choices=("install", "list"))
    k.set_defaults(func=cmd_kernels)

    d = sub.add_parser("data", help="prepare the offline data sets, or fetch a real one when online")
    d.add_argument("action", choices=("prepare", "fetch"))
    d.add_argument("names", nargs="*", help="prepare: set names or all (default); fetch: cifar10, "
                   "fashion_mnist or flower_photos")
    d.set_defaults(func=cmd_data)

    be = sub.add_parser("bench", help="cold and no-op build times, per-lesson time and memory")
    be.add_argument("-j", "--jobs", type=int, default=2)
    be.add_argument("--skip-training", action="store_true", help="skip the training-loop benchmark")
    be.set_defaults(func=cmd_bench)
    return p


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # SIGINT (Ctrl-C) and SIGTERM always stop a build cleanly, whatever disposition was
    # inherited: a non-interactive shell starts background jobs with SIGINT ignored, and
    # Python then never raises KeyboardInterrupt.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop_on_signal)
        signal.signal(signal.SIGTERM, _stop_on_signal)
    try:
        return int(args.func(args) or 0)
    except ProjectError as exc:
        print(f"dlbook: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndlbook: interrupted; no half-written notebook was left behind.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
