"""Run the benchmarks: ``python -m bench [NAME ...] [--quick]``.

    make bench                     every scenario at full size (1,000,000-event histories)
    make bench-quick               every scenario at small sizes (a smoke run)
    python -m bench write asof     some scenarios
    python -m bench --list         the scenarios

Prints each scenario's table as it finishes and the whole table at the end, writes
bench/results/latest.json (and a timestamped copy), and, when every scenario ran at full size,
the table into docs/performance.md between the bench markers (a quick run never rewrites it). Exits 1 when a scenario failed (a missed
target is reported, not an error).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from bench.harness import (
    RESULTS,
    Mode,
    ScenarioResult,
    console,
    load_results,
    machine,
    machine_line,
    markdown_section,
    rich_table,
    write_docs,
    write_results,
)


def main(argv: list[str] | None = None) -> int:
    from bench.scenarios import Context, registry

    scenarios = registry()
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="scenarios (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer rounds")
    parser.add_argument("--rounds", type=int, help="rounds per scenario (default 5, quick 3)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached datasets")
    parser.add_argument(
        "--docs",
        choices=("auto", "yes", "no"),
        default="auto",
        help="write docs/performance.md (auto: when every scenario ran at full size)",
    )
    parser.add_argument("--profile", action="store_true", help="pyinstrument this process")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="only write docs/performance.md's section from a results file (no measuring)",
    )
    args = parser.parse_args(argv)
    out = console()
    if args.list:
        for scenario in scenarios.values():
            out.print(f"{scenario.name:<12} {scenario.title}")
        return 0
    if args.render:
        results, info, mode, seconds = load_results(args.render)
        out.print(rich_table(results, f"{mode} run, {seconds / 60:.1f} min"))
        write_docs(markdown_section(results, info, mode, seconds))
        out.print("docs/performance.md: table updated")
        return 0
    unknown = [n for n in args.names if n not in scenarios]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)} (see --list)")
    chosen = [s for s in scenarios.values() if not args.names or s.name in args.names]
    mode: Mode = "quick" if args.quick else "full"
    rounds = args.rounds or (3 if args.quick else 5)

    from bench.services import Cluster, Datasets

    started = time.perf_counter()
    cluster = Cluster(out)
    results: list[ScenarioResult] = []
    try:
        info = machine(cluster.settings())
        out.print(f"[bold]okrledger benchmarks[/bold], {mode} run: {machine_line(info)}")
        ctx = Context(mode, rounds, cluster, Datasets(cluster, out, args.fresh), out)
        for scenario in chosen:
            out.rule(f"[bold]{scenario.name}[/bold]: {scenario.title}")
            began = time.perf_counter()
            profiler = _profiler() if args.profile else None
            try:
                result = scenario.run(ctx)
            except Exception as error:  # a failed scenario is reported; the others still run
                out.print(f"[red]{scenario.name} failed:[/red]")
                traceback.print_exc()
                result = ScenarioResult(scenario.name, scenario.title, error=_short(error))
            finally:
                if profiler is not None:
                    _save_profile(profiler, scenario.name)
            result.seconds = time.perf_counter() - began
            results.append(result)
            out.print(rich_table([result]))
            out.print(f"[dim]{scenario.name}: {result.seconds:.0f} s[/dim]")
    finally:
        cluster.close()
    seconds = time.perf_counter() - started
    out.rule("[bold]summary[/bold]")
    out.print(rich_table(results, f"{mode} run, {seconds / 60:.1f} min"))
    for result in results:
        for note in result.notes:
            out.print(f"[dim]{result.name}: {note}[/dim]")
    latest = write_results(results, info, mode, seconds)
    out.print(
        f"results: {latest.relative_to(Path.cwd()) if latest.is_relative_to(Path.cwd()) else latest}"
    )
    if writes_docs(args.docs, mode, everything=len(chosen) == len(scenarios)):
        write_docs(markdown_section(results, info, mode, seconds))
        out.print("docs/performance.md: table updated")
    return 1 if any(r.error for r in results) else 0


def writes_docs(choice: str, mode: Mode, *, everything: bool) -> bool:
    """Whether a run rewrites docs/performance.md's table. Only a full run of every scenario
    does on its own: a quick run's small sizes stay in bench/results/ (``--docs yes`` forces)."""
    return choice == "yes" or (choice == "auto" and everything and mode == "full")


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text.splitlines()[0][:200]


def _profiler() -> object | None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("--profile needs pyinstrument (pip install pyinstrument)", file=sys.stderr)
        return None
    profiler = Profiler(async_mode="disabled")
    profiler.start()
    return profiler


def _save_profile(profiler: object, name: str) -> None:
    from pyinstrument import Profiler

    assert isinstance(profiler, Profiler)
    profiler.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"profile-{name}.txt"
    path.write_text(profiler.output_text(unicode=True, color=False))
    print(f"profile: {path}")


if __name__ == "__main__":
    sys.exit(main())
