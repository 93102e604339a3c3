"""`rducc coe plan|compile|serve|generate`: the CoE commands, a thin layer over compiler/coe (registered on the
`rducc` group by compiler/cli.py, whose error and output helpers it uses, imported on call because
compiler/cli.py imports this module)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import click


cache_option = click.option("--cache-dir", type=click.Path(path_type=Path),
                            help="compiled-program cache (default ~/.cache/rducc/coe)")


@click.group("coe")
def coe() -> None:
    """Composition of Experts on a node: plan its memory, compile its programs, serve a request trace (docs/coe.md)."""


@coe.command("plan")
@click.argument("coe_file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the plan as one JSON object")
def plan_cmd(coe_file: Path, as_json: bool) -> None:
    """Print where COE.toml's router, experts and KV caches live on its node."""
    from compiler.cli import user_errors

    with user_errors():
        from compiler.coe.session import CoESession

        session = CoESession(coe_file, None)
        plan = session.plan
        if as_json:
            payload = plan.to_json() | {"categories": len(session.spec.categories), "fallback": session.spec.fallback,
                                        "distinct_architectures": len({e.architecture.digest() for e in session.spec.experts})}
            click.echo(json.dumps(payload))
        else:
            click.echo(plan.to_text())


@coe.command("compile")
@click.argument("coe_file", type=click.Path(path_type=Path))
@click.option("--max-length", type=click.IntRange(min=1),
              help="compile length buckets up to this many tokens (default: each architecture's context)")
@click.option("--ray", "address", metavar="ADDRESS", help="run on the Ray cluster at ADDRESS (host:port)")
@click.option("--workers", type=click.IntRange(min=1), help="architectures at once (default: all CPUs, or the cluster's)")
@click.option("--local", is_flag=True, help="compile in this process, one architecture at a time (no Ray)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object: a row per architecture")
@cache_option
def compile_cmd(coe_file: Path, max_length: int | None, address: str | None, workers: int | None, local: bool,
                as_json: bool, cache_dir: Path | None) -> None:
    """Compile every program of COE.toml's architectures into the cache, one task per architecture
    on Ray (or --local); a later `rducc coe serve` with the same cache compiles nothing."""
    from compiler.cli import fail, user_errors

    with user_errors():
        from compiler.coe.fleet import compile_architecture, compile_fleet, fleet_tasks
        from compiler.coe.programs import default_cache_dir
        from compiler.coe.session import CoESession
        from compiler.tasks.backends import make_backend

        if local and address:
            fail("--local and --ray exclude each other: --local compiles in this process")
        root = cache_dir or default_cache_dir()
        session = CoESession(coe_file, root)
        tasks = fleet_tasks(session.spec.path, root, session.every_need(max_length), session.options.placer)

        def report(row: dict) -> None:
            if not as_json:
                state = "ok" if row["status"] == "ok" else f"failed: {row['error']}"
                click.echo(f"{row['architecture']}: {row['compiled']} compiled, {row['cached']} cached "
                           f"of {row['programs']} programs in {row.get('run_seconds', 0.0):.1f} s ({state})", err=True)

        backend = make_backend(compile_architecture, local, workers, address)
        try:
            result = compile_fleet(tasks, backend, report)
        finally:
            backend.close()
        if as_json:
            click.echo(json.dumps(result.to_json()))
        else:
            out = result.to_json()
            click.echo(f"{len(tasks)} architectures ({len(session.spec.experts)} experts): {out['compiled']} programs "
                       f"compiled, {out['cached']} cached, in {out['wall_seconds']:.1f} s")
        if result.failed:
            first = result.failed[0]
            fail(f"{first['error']}"
                 f"{f' (and {len(result.failed) - 1} more)' if len(result.failed) > 1 else ''}")


@contextmanager
def progress_bar(total: int, enabled: bool, what: str) -> Iterator[Callable[[int], None]]:
    """A rich bar on stderr (only on a terminal, never with --json)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda done: None
        return
    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)


@coe.command("serve")
@click.argument("coe_file", type=click.Path(path_type=Path))
@click.option("--requests", "trace", type=click.Path(path_type=Path), required=True,
              help="request trace: JSONL (docs/coe.md) or an Azure LLM inference trace CSV")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object: summary, per-request results, programs")
@click.option("--trace", "timeline", type=click.Path(path_type=Path), help="write the node's timeline (Perfetto JSON)")
@click.option("--plot", type=click.Path(path_type=Path), help="write latency against the number of experts (.png/.svg)")
@click.option("--baseline", "baselines", multiple=True,
              help="also serve the trace on a GPU baseline (dgx-h100, dgx-a100 or a .toml); repeatable")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the category drawn for requests a shapes-only router cannot classify")
@click.option("--cache-policy", metavar="POLICY",
              help="HBM expert-cache eviction, overriding COE.toml's cache_policy: lru, fifo, largest, lfu, belady")
@cache_option
def serve_cmd(coe_file: Path, trace: Path, as_json: bool, timeline: Path | None, plot: Path | None,
              baselines: tuple[str, ...], seed: int, cache_policy: str | None, cache_dir: Path | None) -> None:
    """Serve a request trace on COE.toml's node: TTFT, latency, throughput, HBM hits, switching."""
    from compiler.cli import check_writable, fail, user_errors, write_atomically

    with user_errors():
        from compiler.coe.gpu_baseline import gpu_platform, load_baseline
        from compiler.coe.programs import default_cache_dir
        from compiler.coe.requests import read_requests
        from compiler.coe.serve import check_requests, serve, uniform_router
        from compiler.coe.session import CoESession
        from compiler.progress import spinner

        check_writable(timeline, plot)
        if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
            fail(f"--plot {plot}: give a .png or .svg file")
        session = CoESession(coe_file, cache_dir or default_cache_dir(), cache_policy)
        spec = session.spec
        systems = [load_baseline(b) for b in baselines]
        requests = read_requests(trace)
        check_requests(spec, requests)
        router = None
        if any(r.category is None and r.prompt is not None for r in requests):
            from compiler.coe.functional import FunctionalCoE

            router = FunctionalCoE(session).route
        router = router or uniform_router(spec.categories, seed)
        compiled_before = sum(session.programs.compiles.values())
        with spinner(not as_json) as update:
            session.compile_all(session.needs(requests), update)
        compiled = sum(session.programs.compiles.values()) - compiled_before
        with progress_bar(len(requests), not as_json, "serving") as update:
            result = serve(spec, session.platform(), requests, router, progress=update)
        summary = result.summary()
        chosen = {r.id: r.category for r in result.requests}  # the baselines serve the node's routing

        def same_routing(batch):
            return [chosen[r.id] for r in batch]

        others = [serve(spec, gpu_platform(system, session.plan.router_bytes, session.plan.kv_bytes), requests,
                        same_routing, record_events=False).summary() for system in systems]
        curves = None
        if plot is not None:
            from compiler.coe.plot import draw, latency_by_experts

            platforms = [session.platform()] + [gpu_platform(s, session.plan.router_bytes, session.plan.kv_bytes) for s in systems]
            curves = latency_by_experts(spec, platforms, requests, seed=seed)
        if timeline is not None:
            from compiler.coe.timeline import chrome_trace

            write_atomically(timeline, json.dumps(chrome_trace(result)).encode())
        if plot is not None:
            _draw_atomically(curves, plot)
        programs = {"compiled": compiled, "cached": session.programs.disk_hits,
                    "architectures_compiled": len(session.programs.compiles)}
        if as_json:
            click.echo(json.dumps({"summary": summary, "baselines": others, "programs": programs,
                                   "latency_by_experts": curves,
                                   "requests": [{"id": r.id, "expert": r.expert, "category": r.category,
                                                 "arrival": r.arrival, "ttft_seconds": r.ttft,
                                                 "latency_seconds": r.latency, "hbm_hit": r.hit,
                                                 "switch_seconds": r.switch_seconds} for r in result.requests]}))
            return
        click.echo(_text(summary))
        for other in others:
            click.echo(_text(other))
        click.echo(f"programs: {compiled} compiled ({programs['architectures_compiled']} architectures), "
                   f"{programs['cached']} from the cache")


@coe.command("generate")
@click.argument("coe_file", type=click.Path(path_type=Path))
@click.option("--requests", "trace", type=click.Path(path_type=Path), required=True,
              help="JSONL requests with \"prompt\" token ids and output_tokens (docs/coe.md)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object: a row per request")
@click.option("--reference/--no-reference", default=True, show_default=True,
              help="also run the CoE in PyTorch and compare the tokens (exit 1 if they differ)")
@cache_option
def generate_cmd(coe_file: Path, trace: Path, as_json: bool, reference: bool, cache_dir: Path | None) -> None:
    """Run a functional CoE (MODEL.py router and experts) end to end in the simulator: the router
    picks each prompt's expert, which generates greedily through its KV cache."""
    from compiler.cli import user_errors

    with user_errors():
        from compiler.coe.functional import FunctionalCoE
        from compiler.coe.functional import reference as pytorch_reference
        from compiler.coe.programs import default_cache_dir
        from compiler.coe.requests import read_requests
        from compiler.coe.session import CoESession

        session = CoESession(coe_file, cache_dir or default_cache_dir())
        requests = read_requests(trace)
        coe_run = FunctionalCoE(session)
        got = coe_run.run(requests)
        want = pytorch_reference(session.spec, requests) if reference else None
        rows = [{"id": g.request, "category": g.category, "expert": g.expert, "tokens": g.tokens,
                 **({"reference_tokens": w.tokens, "match": g == w} if want is not None else {})}
                for g, w in zip(got, want or [None] * len(got))]
        match = None if want is None else all(r["match"] for r in rows)
        programs = {"compiled": sum(session.programs.compiles.values()),
                    "architectures_compiled": len(session.programs.compiles), "cached": session.programs.disk_hits}
    if as_json:
        click.echo(json.dumps({"requests": rows, "match": match, "programs": programs}))
    else:
        for r in rows:
            click.echo(f"request {r['id']}: {r['category']} -> {r['expert']}: {' '.join(map(str, r['tokens']))}"
                       + ("" if "match" not in r else "" if r["match"] else
                          f"  (pytorch: {' '.join(map(str, r['reference_tokens']))})"))
        if match is not None:
            click.echo(f"match with PyTorch: {'yes' if match else 'NO'}")
        click.echo(f"programs: {programs['compiled']} compiled ({programs['architectures_compiled']} architectures), "
                   f"{programs['cached']} from the cache")
    if match is False:
        raise SystemExit(1)


def _draw_atomically(curves, plot: Path) -> None:
    import tempfile

    from compiler.cli import write_atomically
    from compiler.coe.plot import draw

    with tempfile.TemporaryDirectory(dir=plot.parent) as tmp:
        staged = Path(tmp) / f"plot{plot.suffix}"
        draw(curves, staged)
        write_atomically(plot, staged.read_bytes())


def _text(s: dict) -> str:
    u = s["utilisation"]
    return (f"{s['platform']}: {s['requests']} requests, {s['output_tokens']} tokens in {s['makespan_seconds']:.2f} s "
            f"({s['throughput_requests_per_second']:.2f} req/s, {s['throughput_tokens_per_second']:.1f} tok/s)\n"
            f"  TTFT mean {s['ttft_seconds']['mean'] * 1e3:.1f} ms, p99 {s['ttft_seconds']['p99'] * 1e3:.1f} ms; "
            f"latency mean {s['latency_seconds']['mean'] * 1e3:.1f} ms, p99 {s['latency_seconds']['p99'] * 1e3:.1f} ms\n"
            f"  HBM expert cache ({s['cache_policy']}): {s['hbm_hits']} hits, {s['hbm_misses']} misses ({s['evictions']} evictions); "
            f"switching {s['switch_seconds']:.2f} s\n"
            f"  utilisation: busy {u['busy']:.0%} (computing {u['computing']:.0%}, switching {u['switching']:.0%})")
