"""`rducc`: the command line. A thin layer over the driver, the simulator and the inspectors.

Every user error prints one `error: ...` line on stderr and exits 2, with no traceback and no
half-written output file (outputs are written to a temporary file and renamed into place).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from compiler.progress import spinner
from compiler.tasks import files
from rducc_errors import UserError

EXIT_USER_ERROR = 2


def fail(message: str) -> None:
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(EXIT_USER_ERROR)


@contextmanager
def user_errors() -> Iterator[None]:
    """Report an error in the user's input as one `error:` line (exit 2). Every user-facing error
    family derives from UserError, so this catches one class; anything else is a bug in rducc and
    keeps its traceback."""
    try:
        yield
    except UserError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted")


def check_writable(*paths: Path | None, create_folders: bool = False) -> None:
    """Fail before any work if an output could not be written, so nothing is left half-done. Its
    folder must exist (a typo should not make folders), unless `create_folders` (sweep results)."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            fail(f"cannot write {path}: it is a directory")
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    fail(f"cannot write {path}: {parent} is a file, not a directory")
                break
        if not create_folders and not path.parent.is_dir():  # a typo in a folder name should not create folders
            fail(f"cannot write {path}: folder {path.parent} does not exist")


def write_atomically(path: Path, data: bytes, create_folders: bool = False) -> None:
    """A user's output file: checked first (a typo in a folder name fails instead of creating
    folders, unless `create_folders`), then written whole or not at all."""
    check_writable(path, create_folders=create_folders)
    files.write_atomically(path, data)


def read_bitstream(path: Path, data: bytes | None = None):
    """Decode a bitstream file; a malformed one fails naming the file."""
    import bitstream_format

    try:
        return bitstream_format.decode(path.read_bytes() if data is None else data)
    except bitstream_format.BitstreamError as exc:
        fail(f"{path}: {exc}")


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """A command line click refuses (an unknown option, a value out of range, a missing argument)
    is a user error too: one `error:` line with the command's --help to read, exit 2, instead of
    click's usage block."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # `rducc` alone: the help, as click shows it
    except click.UsageError as exc:
        message = exc.format_message().rstrip(".")
        command = exc.ctx.command_path if exc.ctx is not None else "rducc"
        fail(f"{message[:1].lower()}{message[1:]} (see '{command} --help')")


class DefaultCompileGroup(click.Group):
    """`rducc MODEL.py ...` means `rducc compile MODEL.py ...`; a refused command line is one `error:` line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else ""
        looks_like_model = first.endswith(".py") or Path(first).exists()
        if first and first not in self.commands and not first.startswith("-") and looks_like_model:
            args = ["compile", *args]
        with one_line_usage_errors():
            return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        with one_line_usage_errors():  # a subcommand's own command line is parsed here
            return super().invoke(ctx)


chip_option = click.option("--chip", default="sn40l", show_default=True,
                           help="chip spec name (sn40l; small, a 24-PCU chip for tests and quick looks) or .toml path")
opt_option = click.option("-O", "opt_level", type=click.IntRange(0, 1), default=1, show_default=True,
                          help="-O0: one operator per kernel (unfused baseline); -O1: fused streaming pipelines")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="placement seed")


def knob_options(fn):
    """The compile knobs an architecture engineer turns; each becomes a pass option (CompileOptions)."""
    fn = click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True,
                      help="tensor-parallel degree: split the model over this many sockets of --node (rdu-shard)")(fn)
    fn = click.option("--node", default=None, help="node spec (sn40l-node8, sn40l-rack16, small-node8 or .toml): "
                                                    "compile for its chip, run on its sockets and network")(fn)
    fn = click.option("--fifo-depth", type=click.IntRange(min=1), default=None,
                      help="force every FIFO's depth in tiles (default: the compiler sizes them; 1 deadlocks on purpose)")(fn)
    fn = click.option("--tile-bytes", type=click.IntRange(min=1), default=None,
                      help="force every stream's tile size in bytes (default: the compiler chooses)")(fn)
    fn = click.option("--placer", type=click.Choice(["cpsat", "cycles", "greedy", "random"]), default=None,
                      help="placement: CP-SAT windows for wirelength, the same re-placed for simulated cycles, "
                           "greedy nearest sites, or seeded random legal sites  [default: cycles, or $RDUCC_PLACER]")(fn)
    return fn


def _knobs(placer: str, tile_bytes: int | None, fifo_depth: int | None, node: str | None = None, tp: int = 1) -> dict:
    return ({"placer": placer} if placer else {}) | {"tile_bytes": tile_bytes or 0, "fifo_depth": fifo_depth or 0} | (
        {"node": node, "tp": tp} if node or tp != 1 else {})


def loop_options(fn):
    """A layer loop (rdu-layer-loop, the bitstream's LOOP section): the model is one layer of it."""
    fn = click.option("--loop-body", default="", metavar="MODULE",
                      help="the model is a whole step and only module MODULE (e.g. layers.0) is the loop; what runs "
                           "before it is the prologue, after it the epilogue; the carried value is derived")(fn)
    fn = click.option("--per-layer", default="",
                      help="the loop's arguments each layer has its own of (e.g. its KV cache): N[,N...]")(fn)
    fn = click.option("--carry", default="0:0", show_default=True,
                      help="the loop's carried values, RESULT:ARGUMENT[,...]: result RESULT of a layer is "
                           "argument ARGUMENT of the next")(fn)
    fn = click.option("--layers", type=click.IntRange(min=1), default=1, show_default=True,
                      help="the model is one layer of a loop run this many times (rdu-layer-loop; the LOOP section)")(fn)
    return fn


fifos_option = click.option("--fifos", type=click.Choice(["configured", "grow"]), default="configured", show_default=True,
                            help="FIFO depths as the bitstream configures them (a deadlock is an error), or grown "
                                 "where a run deadlocks (for experiments; reported per kernel)")


@click.group(cls=DefaultCompileGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="rducc")
def main() -> None:
    """rducc: compile PyTorch models for an SN40L-style reconfigurable dataflow chip.

    \b
    rducc MODEL.py -o OUT.rbit      compile (same as `rducc compile`)
    rducc run MODEL.py --json       compile, simulate, compare with PyTorch
    rducc bisect MODEL.py           find the first pass and op that stop matching PyTorch
    rducc generate MODEL.py         greedy-decode with a KV cache in the simulator
    rducc sim OUT.rbit              simulate a bitstream
    rducc inspect OUT.rbit          show a bitstream
    rducc chip sn40l --json         show a chip spec
    rducc opt IN.mlir -p PASSES     run passes on textual IR
    rducc emit IN.mlir -o OUT.rbit  write the bitstream of lowered IR
    rducc sweep SWEEP.toml -o R.csv design-space sweep (Ray)
    rducc coe serve COE.toml --requests T.jsonl   serve a Composition of Experts
    rducc coe compile COE.toml      compile a CoE's programs, one Ray task per architecture
    """


def _compile(model: Path, chip: str, opt_level: int, seed: int, show_progress: bool = True, **knobs):
    from compiler.driver import CompileOptions, compile_model

    with spinner(show_progress) as update:
        return compile_model(model, CompileOptions(chip=chip, opt_level=opt_level, seed=seed, **knobs), update)


@main.command("compile")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="bitstream to write (.rbit)")
@chip_option
@opt_option
@seed_option
@knob_options
@loop_options
@click.option("--emit-ir", type=click.Path(path_type=Path), help="also write the final rdu IR here")
@click.option("--print-pipeline", is_flag=True,
              help="print the pass pipeline these options run (for `rducc opt -p`) and exit")
def compile_cmd(model: Path, output: Path | None, chip: str, opt_level: int, seed: int, placer: str,
                tile_bytes: int | None, fifo_depth: int | None, node: str | None, tp: int, layers: int, carry: str,
                per_layer: str, loop_body: str, emit_ir: Path | None, print_pipeline: bool) -> None:
    """Compile MODEL.py into a bitstream (the same bytes as `rducc import | rducc opt -p PIPELINE | rducc emit`)."""
    with user_errors():
        knobs = _knobs(placer, tile_bytes, fifo_depth, node, tp) | _loop_knobs(layers, carry, per_layer, loop_body)
        if print_pipeline:
            from compiler.driver import CompileOptions

            click.echo(CompileOptions(chip=chip, opt_level=opt_level, seed=seed, **knobs).pipeline())
            return
        if output is None:
            fail("missing option -o/--output: the bitstream to write (.rbit)")
        check_writable(output, emit_ir)
        result = _compile(model, chip, opt_level, seed, **knobs)
        write_atomically(output, result.data)
        if emit_ir:
            write_atomically(emit_ir, str(result.module).encode())
        m = result.bitstream.manifest
        click.echo(
            f"wrote {output} ({len(result.data):,} bytes): {_plural(m['kernels'], 'kernel')}, {m['pcus_used']} PCUs, "
            f"{m['pmus_used']} PMUs on {result.chip.name}"
            + (f" x {m['sockets']} sockets of {m['node']}" if m.get("sockets") else "")
            + (f", a loop of {m['loop_trips']} layers" if m.get("loop_trips") else "")
            + f" in {result.compile_seconds:.2f} s"
        )
        for note in result.notes:
            click.echo(f"note: {note}", err=True)


def _loop_knobs(layers: int, carry: str, per_layer: str, loop_body: str = "") -> dict:
    """`--layers/--carry/--per-layer/--loop-body` as CompileOptions fields (only when a loop is asked for)."""
    if layers == 1:
        if loop_body:
            fail("--loop-body names the loop of --layers L (L > 1): give --layers")
        return {}
    try:
        pairs = [tuple(int(v) for v in p.split(":")) for p in carry.split(",") if p.strip()]
        own = tuple(int(v) for v in per_layer.split(",") if v.strip())
    except ValueError:
        fail(f"--carry takes RESULT:ARGUMENT pairs and --per-layer argument numbers, got {carry!r} and {per_layer!r}")
    if not pairs or any(len(p) != 2 for p in pairs):
        fail(f"--carry takes RESULT:ARGUMENT pairs, got {carry!r}")
    if loop_body:
        if carry != "0:0":
            fail("--loop-body derives the carried value: drop --carry")
        return {"layers": layers, "per_layer": own, "loop_body": loop_body}
    return {"layers": layers, "carry": tuple(v for p in pairs for v in p), "per_layer": own}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _sim_inputs(bs, inputs_path: Path | None, seed: int):
    import numpy as np

    from bitstream_format.arrays import numpy_dtype

    if inputs_path is not None:
        from functional_sim import load_inputs_npz

        return load_inputs_npz(inputs_path, bs)
    rng = np.random.default_rng(seed)
    arrays = []
    for tid in bs.inputs:
        t = bs.tensor(tid)
        dt = numpy_dtype(t.dtype)
        shard = bs.node.shard_of(tid) if bs.node is not None else None  # a split input is given whole
        shape = shard.whole_shape if shard is not None else t.shape
        if bs.loop is not None and bs.loop.address_of(tid) is not None:
            shape = (bs.loop.trips, *shape)  # a per-layer input: every layer's value, stacked
        arrays.append(rng.standard_normal(shape).astype(dt) if dt.kind == "f" else np.zeros(shape, dt))
    return arrays


@main.command("sim")
@click.argument("bitstream", type=click.Path(path_type=Path))
@click.option("--inputs", "inputs_path", type=click.Path(path_type=Path), help="inputs .npz (keys: input names, or arr_0...)")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="write outputs to this .npz")
@click.option("--launch", type=click.Choice(["software", "hardware"]), default=None,
              help="kernel launch [default: software; a loop (LOOP section): the mode it was compiled for]")
@click.option("--trace", type=click.Path(path_type=Path), help="write the simulated timeline as Chrome/Perfetto trace JSON")
@click.option("--timing-only", is_flag=True, help="estimate cycles without executing (for shapes-only bitstreams)")
@click.option("--timing", type=click.Choice(["event", "analytic"]), default="event", show_default=True,
              help="cycles from the discrete-event run or from the pipelined-roofline formula")
@click.option("--chip", "chip_spec", help="chip spec (.toml path) for a bitstream compiled for a custom chip")
@fifos_option
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def sim_cmd(bitstream: Path, inputs_path: Path | None, output: Path | None, launch: str | None, trace: Path | None,
            timing_only: bool, timing: str, chip_spec: str | None, fifos: str, as_json: bool) -> None:
    """Simulate a bitstream. Without --inputs, inputs are seeded random normals (floats) and zeros (integers)."""
    with user_errors():
        from functional_sim import SimulationError, save_outputs_npz, simulate
        from compiler.time_text import modeled_time

        if not bitstream.exists():
            fail(f"bitstream {bitstream} does not exist")
        check_writable(output, trace)
        bs = read_bitstream(bitstream)
        inputs = _sim_inputs(bs, inputs_path, 0)
        t0 = time.perf_counter()
        chip = None
        if chip_spec is not None:
            from chip_model import load_chip

            chip = load_chip(chip_spec)
            if chip.name != bs.chip:
                fail(f"the bitstream was compiled for chip {bs.chip!r}, not {chip.name!r}")
        try:
            if bs.loop is not None:  # a loop: every iteration from the one file (functional_sim.loop_run)
                from functional_sim.loop_run import simulate_loop

                if timing != "event":
                    fail(f"{bitstream}: a loop is timed by the event engine only (--timing event)")
                result = simulate_loop(bs, inputs, chip=chip, execute=not timing_only, launch=launch, fifos=fifos)
            else:
                if bs.node is not None:  # a tensor-parallel program: every socket of its node (functional_sim.node)
                    from functional_sim.node import simulate_node as simulate
                result = simulate(bs, inputs, chip=chip, execute=not timing_only, launch=launch or "software",
                                  timing=timing, fifos=fifos)
        except SimulationError as exc:
            fail(f"{bitstream}: {exc}")
        seconds = time.perf_counter() - t0
        if output is not None and not timing_only:
            with tempfile.TemporaryDirectory(dir=output.parent if output.parent.exists() else None) as tmp:
                staged = Path(tmp) / "out.npz"
                save_outputs_npz(staged, result, bs)
                write_atomically(output, staged.read_bytes())
        if trace is not None:
            write_atomically(trace, json.dumps(result.chrome_trace()).encode())
        summary = {"cycles": result.cycles, "modeled_seconds": result.seconds, "kernels": len(bs.kernels), "timing": timing,
                   "simulate_seconds": seconds, "outputs": [list(o.shape) for o in result.outputs]}
        if bs.node is not None:
            summary |= {k: v for k, v in result.to_json().items() if k != "cycles"}
        if bs.loop is not None:
            summary["loop"] = result.loop.to_json()
            if bs.loop.whole_step:  # prologue, loop, epilogue and the host's work per token
                summary["step"] = result.step.to_json()
        if as_json:
            click.echo(json.dumps(summary))
        else:
            looped = f" x {bs.loop.trips} iterations ({result.loop.launch} launch)" if bs.loop is not None else ""
            click.echo(f"simulated {_plural(len(bs.kernels), 'kernel')}{looped}: {result.cycles:,} cycles "
                       f"({modeled_time(result.seconds)} modeled) in {seconds:.2f} s")
            if output is not None and not timing_only:
                click.echo(f"wrote {output}")
            if trace is not None:
                click.echo(f"wrote {trace}")


@main.command("run")
@click.argument("model", type=click.Path(path_type=Path))
@chip_option
@opt_option
@seed_option
@knob_options
@loop_options
@click.option("--launch", type=click.Choice(["software", "hardware"]), default="software", show_default=True)
@click.option("--trace", type=click.Path(path_type=Path), help="write the simulated timeline as Chrome/Perfetto trace JSON")
@click.option("--timing", type=click.Choice(["event", "analytic"]), default="event", show_default=True,
              help="cycles from the discrete-event run or from the pipelined-roofline formula")
@fifos_option
@click.option("--rtol", type=click.FloatRange(min=0), help="relative tolerance (default: by output dtype, as torch.testing)")
@click.option("--atol", type=click.FloatRange(min=0), help="absolute tolerance (default: by output dtype, as torch.testing)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def run_cmd(model: Path, chip: str, opt_level: int, seed: int, placer: str, tile_bytes: int | None,
            fifo_depth: int | None, node: str | None, tp: int, layers: int, carry: str, per_layer: str, loop_body: str,
            launch: str,
            trace: Path | None, timing: str, fifos: str, rtol: float | None, atol: float | None, as_json: bool) -> None:
    """Compile MODEL.py, simulate it, and compare with PyTorch eager (exit 1 if they differ).

    A shapes-only model (built on the meta device) is simulated for timing only: it reports
    `allclose: null` and exits 0."""
    with user_errors():
        from compiler.run_model import run_and_compare

        check_writable(trace)
        with spinner(not as_json) as update:
            report = run_and_compare(model, chip, opt_level, seed, launch, update, timing, rtol, atol, fifos=fifos,
                                     **_knobs(placer, tile_bytes, fifo_depth, node, tp),
                                     **_loop_knobs(layers, carry, per_layer, loop_body))
        if trace is not None:
            write_atomically(trace, json.dumps(report.trace).encode())
        if as_json:
            click.echo(json.dumps(report.to_json()))
        else:
            click.echo(report.to_text())
            for note in report.compile.notes:
                click.echo(f"note: {note}", err=True)
            if trace is not None:
                click.echo(f"wrote {trace}")
        if report.allclose is False:
            sys.exit(1)


@main.command("generate")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--tokens", "max_new_tokens", type=int, default=8, show_default=True, help="new tokens to decode greedily")
@click.option("--cache-len", type=int, default=0,
              help="rows of the static KV cache (default: prompt + tokens - 1, the least that works)")
@chip_option
@seed_option
@knob_options
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def generate_cmd(model: Path, max_new_tokens: int, cache_len: int, chip: str, seed: int, placer: str,
                 tile_bytes: int | None, fifo_depth: int | None, node: str | None, tp: int, as_json: bool) -> None:
    """Greedy-decode a Hugging Face causal LM (MODEL.py; prompt: its example_inputs[0]) token by token in
    the simulator, with a static KV cache updated in place in HBM, and compare with PyTorch (exit 1 if
    the tokens differ). Prints the tokens and the prefill and per-step decode cycles (docs/generate.md)."""
    with user_errors():
        from compiler.driver import CompileOptions
        from compiler.generate import GenerateOptions, generate

        if cache_len < 0:
            fail(f"--cache-len must be positive, got {cache_len}")
        options = GenerateOptions(CompileOptions(chip=chip, seed=seed, **_knobs(placer, tile_bytes, fifo_depth, node, tp)),
                                  cache_len)
        with spinner(not as_json) as update:
            update("generate")
            _, report = generate(model, None, max_new_tokens, options)
        click.echo(json.dumps(report.to_json()) if as_json else report.to_text())
        if report.match is False:
            sys.exit(1)


@main.command("bisect")
@click.argument("model", type=click.Path(path_type=Path))
@chip_option
@opt_option
@seed_option
@click.option("-p", "--pipeline", help="the pass pipeline to bisect (default: the one these options compile with)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def bisect_cmd(model: Path, chip: str, opt_level: int, seed: int, pipeline: str | None, as_json: bool) -> None:
    """Find where MODEL.py's compiled form first stops matching PyTorch: run its example inputs through
    PyTorch, the imported IR, the IR after every pass and the bitstream, and name the first op that
    diverges, with its model line. Exit 1 if some level diverges."""
    with user_errors():
        from compiler.bisect import bisect_model
        from compiler.driver import CompileOptions

        with spinner(not as_json) as update:
            report = bisect_model(model, CompileOptions(chip=chip, opt_level=opt_level, seed=seed), pipeline, update)
        click.echo(json.dumps(report.to_json()) if as_json else report.to_text())
        if report.first_divergent is not None:
            sys.exit(1)


@main.command("inspect")
@click.argument("bitstream", type=click.Path(path_type=Path))
@click.option("--section", type=click.Choice(["manifest", "tensors", "kernels", "stages", "streams", "tiles", "image"]),
              help="show one section in full")
@click.option("--json", "as_json", is_flag=True, help="print the decoded bitstream as JSON")
@click.option("--map", "map_kernel", help="draw this kernel's placement (a kernel name; see --section kernels)")
@click.option("--svg", "svg_path", type=click.Path(path_type=Path), help="with --map: write a standalone SVG here")
@click.option("--html", "html_path", type=click.Path(path_type=Path),
              help="with --map: write an HTML page here (hover to name stages, highlight streams, link use)")
def inspect_cmd(bitstream: Path, section: str | None, as_json: bool, map_kernel: str | None, svg_path: Path | None,
                html_path: Path | None) -> None:
    """Print a bitstream readably, or draw a kernel's placement map (--map K --html F.html or --svg F.svg)."""
    with user_errors():
        from compiler.inspect_bitstream import describe, to_json

        if not bitstream.exists():
            fail(f"bitstream {bitstream} does not exist")
        if map_kernel is None and (svg_path or html_path):
            fail("--svg and --html draw a kernel: name it with --map KERNEL (see --section kernels)")
        if map_kernel is not None and not (svg_path or html_path):
            fail("--map needs --html FILE or --svg FILE to write the picture to")
        check_writable(svg_path, html_path)
        data = bitstream.read_bytes()
        bs = read_bitstream(bitstream, data)
        if map_kernel is not None:
            from chip_model import load_chip
            from compiler.placement_map import placement_html, placement_svg

            chip = load_chip(bs.chip)
            for path, draw in ((svg_path, placement_svg), (html_path, placement_html)):
                if path is None:
                    continue
                try:
                    picture = draw(bs, chip, map_kernel)
                except KeyError as exc:
                    fail(exc.args[0])
                write_atomically(path, picture.encode())
                click.echo(f"wrote {path}")
            return
        click.echo(json.dumps(to_json(bs, section), indent=1) if as_json else describe(bs, data, section))


@main.command("chip")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print the full spec, with every site, as JSON")
def chip_cmd(name: str, as_json: bool) -> None:
    """Show a chip spec (sn40l, small, or a .toml path) or a node (sn40l-node8, sn40l-rack16, small-node8)."""
    with user_errors():
        from chip_model import is_node, load_chip, load_node

        if is_node(name):
            node = load_node(name)
            if as_json:
                click.echo(json.dumps(node.to_json()))
                return
            net = node.network
            click.echo(f"{node.name}: {node.description}")
            click.echo(f"  {node.sockets} x {node.chip.name}; peer-to-peer {net.topology}, {net.links_per_socket} links "
                       f"x {net.link_bytes_per_second / 1e9:.1f} GB/s per socket, {net.latency_seconds * 1e6:.2f} us")
            click.echo(f"  DDR->HBM copy {node.ddr_to_hbm_bytes_per_second / 1e12:.2f} TB/s per node")
            host = node.host_launch
            click.echo(f"  software launch on {node.sockets} sockets {host.software_launch_cycles(node.chip, node.sockets):,} "
                       f"cycles (host issue {host.issue_seconds_per_socket * 1e6:.2f} us per socket, "
                       f"{'serial' if host.serial_issue else 'parallel'})")
            device = node.device_launch
            click.echo(f"  hardware launch on {node.sockets} sockets "
                       f"{device.hardware_launch_cycles(node.chip, net, node.sockets):,} cycles (barrier per kernel "
                       f"{device.barrier_seconds(net, node.sockets) * 1e6:.2f} us)")
            for tier in ("sram", "hbm", "ddr"):
                click.echo(f"  {tier.upper():4} {node.capacity_bytes(tier) / 2**30:12.3f} GiB in all")
            return
        chip = load_chip(name)
        if as_json:
            click.echo(json.dumps(chip.to_json()))
            return
        counts = ", ".join(f"{chip.count(k)} {k.upper()}s" for k in ("pcu", "pmu", "agcu"))
        click.echo(f"{chip.name}: {chip.description}")
        click.echo(f"  grid {chip.grid.columns} x {chip.grid.rows}: {counts}")
        click.echo(f"  clock {chip.clock_hz / 1e9:.2f} GHz, peak {chip.peak_flops / 1e12:.1f} TFLOPS "
                   f"(PCU {chip.pcu.lanes} lanes x {chip.pcu.stages} stages)")
        for tier in ("sram", "hbm", "ddr"):
            t = chip.tier(tier)
            click.echo(f"  {tier.upper():4} {t.capacity_bytes / 2**30:10.3f} GiB {t.bytes_per_second / 1e9:10.1f} GB/s")
        click.echo("  " + _grid_picture(chip).replace("\n", "\n  "))


def _grid_picture(chip) -> str:
    letter = {"pcu": "C", "pmu": "M", "agcu": "A"}
    rows = [["." for _ in range(chip.grid.columns)] for _ in range(chip.grid.rows)]
    for s in chip.grid.sites:
        rows[s.y][s.x] = letter[s.kind]
    if chip.grid.rows > 16:
        return f"(floor plan: {chip.grid.rows} rows; C=PCU M=PMU A=AGCU; see --json for every site)"
    return "\n".join("".join(r) for r in rows) + "\n(C=PCU M=PMU A=AGCU)"


@main.command("opt", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                       "help_option_names": []}, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def opt_cmd(args: tuple[str, ...]) -> None:
    """Run passes on textual IR: xdsl-opt with rducc's dialects and passes (`rducc opt --help`).

    \b
    rducc opt IN.mlir -p 'rdu-fuse,rdu-lower' -o OUT.mlir
    rducc opt IN.mlir -p canonicalize,dce --print-between-passes
    rducc opt IN.mlir --split-input-file --verify-diagnostics
    """
    with user_errors():
        from compiler.opt_main import RduccOptMain

        tool = RduccOptMain(list(args))
        output = Path(tool.args.output_file) if tool.args.output_file else None
        check_writable(output)
        text = _run_opt(tool)  # to stdout as it goes, or returned for -o
        if output:
            write_atomically(output, text.encode())


def _run_opt(tool) -> str:
    """The tool's output text; bad input (unreadable, unparsable, foreign) fails in one line."""
    from xdsl.utils.exceptions import DiagnosticException, ParseError

    from compiler.textual_ir import parse_error_line
    from dialects.diagnostics import RduccError

    source = tool.args.input_file
    try:
        return tool.run_to_text()
    except FileNotFoundError:
        fail(f"{source} does not exist")
    except IsADirectoryError:
        fail(f"{source} is a directory")
    except UnicodeDecodeError:
        fail(f"{source or 'the input'} is not textual IR (it is not UTF-8 text; a bitstream is read by `rducc inspect`)")
    except ParseError as exc:
        fail(parse_error_line(exc))
    except DiagnosticException as exc:
        if isinstance(exc, RduccError):  # ours (a verifier failure naming the pass): user_errors() reports it
            raise
        fail(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


@main.command("emit")
@click.argument("source", type=click.Path(path_type=Path), default="-")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="bitstream to write (.rbit)")
def emit_cmd(source: Path, output: Path) -> None:
    """Write the bitstream of lowered rdu IR (the output of the whole pass pipeline). SOURCE defaults to stdin (-)."""
    with user_errors():
        check_writable(output)
        from backend_rdu.emit_bitstream import emit_module
        from compiler.textual_ir import parse_ir
        from dialects import make_context

        text = sys.stdin.read() if str(source) == "-" else _read_ir_text(source)
        module = parse_ir(make_context(), text, str(source))
        try:
            data = emit_module(module)
        except UserError as exc:
            fail(str(exc) if str(source) == "-" else f"{source}: {exc}")
        write_atomically(output, data)
        click.echo(f"wrote {output} ({len(data):,} bytes)")


def _read_ir_text(path: Path) -> str:
    if not path.exists():
        fail(f"{path} does not exist")
    if path.is_dir():
        fail(f"{path} is a directory")
    try:
        return path.read_text()
    except UnicodeDecodeError:
        fail(f"{path} is not textual IR (it is not UTF-8 text; a bitstream is read by `rducc inspect`)")


@main.command("import")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="write the IR here instead of stdout")
def import_cmd(model: Path, output: Path | None) -> None:
    """Print MODEL.py imported into the rgraph dialect (the input of `rducc opt`)."""
    with user_errors():
        from compiler.driver import import_model
        from compiler.textual_ir import print_ir

        text = print_ir(import_model(model).module)
        if output:
            write_atomically(output, text.encode())
        else:
            click.echo(text, nl=False)


@main.command("place")
@click.argument("netlist", type=click.Path(path_type=Path))
@chip_option
@click.option("--seconds", type=float, default=10.0, show_default=True, help="time budget")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print {wirelength, lower_bound, seconds, positions}")
def place_cmd(netlist: Path, chip: str, seconds: float, seed: int, as_json: bool) -> None:
    """Place a netlist JSON (docs/placement.md) on a chip."""
    with user_errors():
        from backend_rdu.placement import load_netlist, place_netlist

        if not netlist.exists():
            fail(f"netlist {netlist} does not exist")
        if not seconds > 0:
            fail(f"--seconds must be positive, got {seconds}")
        result = place_netlist(load_netlist(netlist), chip, seconds=seconds, seed=seed)
        if as_json:
            click.echo(json.dumps(result))
        else:
            click.echo(f"placed {len(result['positions'])} units on {chip}: wirelength {result['wirelength']} "
                       f"(lower bound {result['lower_bound']}) in {result['seconds']} s")


@main.command("sweep")
@click.argument("sweep_file", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="results table to write (.csv, or .parquet with pyarrow)")
@click.option("--plots", "plots_dir", type=click.Path(path_type=Path), help="write PNG plots (each metric vs each axis, Pareto front) here")
@click.option("--ray", "address", help="join the Ray cluster at this address (default: start a local instance)")
@click.option("--workers", type=click.IntRange(min=1), help="points run at once (default: the CPUs of this machine or of the --ray cluster)")
@click.option("--local", is_flag=True, help="run every point in this process, one at a time (no Ray; for debugging)")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), help="compile and result cache (default ~/.cache/rducc/sweep)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object: counts, timings and every row")
def sweep_cmd(sweep_file: Path, output: Path | None, plots_dir: Path | None, address: str | None, workers: int | None,
              local: bool, cache_dir: Path | None, as_json: bool) -> None:
    """Compile and simulate every point of SWEEP.toml (models x chip or node fields x options); see docs/sweep.md."""
    with user_errors():
        from compiler.sweep import expand, load_sweep, run_sweep
        from compiler.sweep.cache import default_cache_dir
        from compiler.sweep.progress import progress_bar
        from compiler.sweep.results import check_output, encode, to_text

        if local and address:
            fail("--local runs in this process; it cannot be combined with --ray")
        check_writable(output, plots_dir, create_folders=True)
        if output is not None:
            check_output(output)
        if plots_dir is not None:
            from compiler.sweep.plots import require_matplotlib

            require_matplotlib()
        if not local:
            from compiler.tasks.backends import require_ray

            require_ray()
        spec = load_sweep(sweep_file)
        points = expand(spec)
        total = len(points)
        try:
            with progress_bar(total, not as_json) as update:
                outcome = run_sweep(spec, cache_dir or default_cache_dir(), local=local, workers=workers,
                                    address=address, progress=update, points=points)
        except KeyboardInterrupt:
            fail("interrupted: the points finished so far are cached; run the same command again to resume")
        if output is not None:
            write_atomically(output, encode(outcome.records, output), create_folders=True)
        plots = []
        if plots_dir is not None:
            from compiler.sweep.plots import draw

            plots = draw(outcome.records, list(spec.axes), spec.metrics, spec.time_metric, plots_dir)
        counts = outcome.run.counts
        if as_json:
            click.echo(json.dumps({"points": total, **counts, "wall_seconds": outcome.run.wall_seconds,
                                   "output": str(output) if output else None, "plots": [str(p) for p in plots],
                                   "rows": outcome.records}))
        else:
            click.echo(to_text(outcome.records, list(spec.axes)))
            wrote = f"; wrote {output}" if output else ""
            click.echo(f"{_plural(total, 'point')}: {counts['failed']} failed, {counts['cached']} cached, "
                       f"in {outcome.run.wall_seconds:.1f} s{wrote}" + (f" and {len(plots)} plots in {plots_dir}" if plots else ""))


@main.command("passes")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list: name, summary, options, generic")
def passes_cmd(as_json: bool) -> None:
    """List the passes a pipeline (-p) can name, with their options: rducc's, then xDSL's generic ones."""
    from passes.registry import describe_passes

    infos = describe_passes()
    if as_json:
        click.echo(json.dumps([info.to_json() for info in infos]))
        return
    width = max(len(info.name) for info in infos)  # the longest name keeps the summaries in one column
    click.echo("rducc's passes:")
    for info in infos:
        if info.generic and not any(i.generic for i in infos[:infos.index(info)]):
            click.echo("xDSL's generic passes:")
        click.echo(f"  {info.name:{width}} {info.summary}")
        for option in info.options:
            default = "required" if option.default is None else f"default {option.default}"
            click.echo(f"  {'':{width}}   {option.name}: {option.type} ({default})")


@main.command("ops")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def ops_cmd(model: Path, as_json: bool) -> None:
    """List the model's ATen ops, marking unsupported ones, with the source line of each."""
    with user_errors():
        from compiler.frontend.capture import capture
        from compiler.frontend.importer import list_ops
        from compiler.frontend.model_file import load_model_file, run_eager

        loaded = load_model_file(model)
        run_eager(loaded)
        rows = list_ops(capture(loaded))
        if as_json:
            click.echo(json.dumps([{"op": o, "supported": s, "source": src} for o, s, src in rows]))
            return
        for op, supported, src in rows:
            click.echo(f"{'  ' if supported else '!!'} {op:40} {src}")
        missing = sorted({o for o, s, _ in rows if not s})
        click.echo(f"{len(rows)} ops, {len(missing)} unsupported" + (f": {', '.join(missing)}" if missing else ""))
        if missing:
            sys.exit(EXIT_USER_ERROR)


from compiler.coe.cli import coe  # noqa: E402  (the `rducc coe` group; it uses the helpers above)

main.add_command(coe)

if __name__ == "__main__":
    main()
