"""Compile once per architecture: 150 experts of 5 architectures compile 5 architectures' programs,
each program once; a second session compiles nothing."""

from __future__ import annotations

from tests.coe.conftest import FIVE, five_arch_requests


def test_150_experts_of_5_architectures_compile_5_times(five_cache):
    from compiler.coe.session import CoESession

    root, compiles = five_cache
    session = CoESession(FIVE, root)
    assert len(session.spec.experts) == 150
    assert len({e.architecture.digest() for e in session.spec.experts}) == 5
    assert set(compiles) == {e.architecture.digest() for e in session.spec.experts}  # the router shares architecture a
    needs = session.needs(five_arch_requests())
    assert sum(compiles.values()) == len(needs)  # one compile per program, none per expert
    # per expert architecture: one prefill layer, one decode layer, one head (batch 1)
    a = session.spec.expert("a-0").architecture.digest()
    assert all(count == 3 for digest, count in compiles.items() if digest != a)


def test_second_session_compiles_nothing(five_cache):
    from compiler.coe.session import CoESession

    root, _ = five_cache
    session = CoESession(FIVE, root)
    needs = session.needs(five_arch_requests())
    session.compile_all(needs)
    assert sum(session.programs.compiles.values()) == 0
    assert all(session.programs.cached(a, s) for a, s in needs)
    for a, s in needs:
        session.programs.timing(a, s)
    assert session.programs.disk_hits == len(needs)
    assert sum(session.programs.compiles.values()) == 0


def test_program_key_ignores_names_and_weights_but_not_options(five_cache):
    from dataclasses import replace

    from compiler.coe.programs import ProgramCache, ProgramShape
    from compiler.coe.session import CoESession
    from compiler.driver import CompileOptions

    session = CoESession(FIVE, None)
    arch = session.spec.expert("b-3").architecture
    shape = ProgramShape("layer", "prefill", 32, 1)
    key = session.programs.key(arch, shape)
    assert session.programs.key(replace(arch, name="renamed"), shape) == key
    assert session.programs.key(replace(arch, intermediate=arch.intermediate * 2), shape) != key
    other = ProgramCache(session.node, session.tp, CompileOptions(chip=session.options.chip, seed=1))
    assert other.key(arch, shape) != key
    assert session.programs.key(arch, ProgramShape("layer", "prefill", 64, 1)) != key


def test_compiled_timings_are_real_simulations(five_cache):
    """Deeper and wider architectures take longer: the timer reads simulated programs."""
    from compiler.coe.session import CoESession

    root, _ = five_cache
    session = CoESession(FIVE, root)
    t = session.timer
    a, e = session.spec.expert("a-0").architecture, session.spec.expert("e-0").architecture
    assert 0 < t.prefill_seconds(a, 20, 1) < t.prefill_seconds(e, 20, 1)  # e: 4 layers, wider
    assert sum(session.programs.compiles.values()) == 0


def test_decoder_programs_are_tensor_parallel_node_programs(five_cache):
    """The layer and head are compiled with rdu-shard for the CoE's node and timed on it: their
    collectives come from the simulator, and node and tp are in the program key."""
    from compiler.coe.programs import ProgramCache, ProgramShape
    from compiler.coe.session import CoESession

    root, _ = five_cache
    session = CoESession(FIVE, root)
    arch = session.spec.expert("c-0").architecture
    options = session.programs.compile_options(arch)
    assert (options.node, options.tp) == ("small-node8", 8)
    layer = session.programs.timing(arch, ProgramShape("layer", "prefill", 32, 1))
    head = session.programs.timing(arch, ProgramShape("head", "any", 1, 1))
    assert 0 < layer.collective_seconds < layer.seconds and 0 < head.collective_seconds < head.seconds
    assert layer.opt_level == 1 and layer.fallback == ""
    four = ProgramCache(session.node, 4, session.options)
    assert four.key(arch, ProgramShape("layer", "prefill", 32, 1)) != session.programs.key(arch, ProgramShape("layer", "prefill", 32, 1))
    breakdown = session.timer.breakdown(arch, "prefill", 20, 1)
    step = session.timer.step(arch, "prefill", 20, 1)  # the layer loop then the head, hardware launch
    assert session.timer.prefill_seconds(arch, 20, 1) == step.seconds == breakdown["total"]
    assert step.layers == arch.layers and 0 < breakdown["collectives_simulated"] < step.seconds
    assert step.seconds < arch.layers * layer.seconds + head.seconds  # software launch of each layer costs more


def test_program_that_fails_at_O1_compiles_at_O0_and_says_so(monkeypatch):
    """A program the -O1 pipeline cannot compile (e.g. a long prefill rdu-size-fifos cannot fit)
    falls back to -O0 and records why, instead of failing the whole CoE."""
    import compiler.driver as driver
    from compiler.coe.programs import ProgramShape
    from compiler.coe.session import CoESession
    from rducc_errors import UserError

    real = driver.compile_loaded
    fallbacks = []

    def failing_at_o1(loaded, options):
        if options.opt_level >= 1:
            raise UserError("rdu-size-fifos: the FIFOs do not fit")
        fallbacks.append(options.o0_granularity)
        return real(loaded, options)

    monkeypatch.setattr(driver, "compile_loaded", failing_at_o1)
    session = CoESession(FIVE, None)
    arch = session.spec.expert("a-0").architecture
    timing = session.programs.timing(arch, ProgramShape("head", "any", 1, 1))
    assert timing.opt_level == 0 and timing.fallback == "-O1: rdu-size-fifos: the FIFOs do not fit"
    assert fallbacks == ["aten"]  # the finest compile: one op per kernel, nothing fused to fit
    assert timing.seconds > 0 and timing.collective_seconds > 0


def test_decoder_layer_program_is_the_whole_decoders_loop(five_cache):
    """A decoder's layer program carries its depth in the file (the LOOP section: hidden state
    carried, a decode layer's KV caches its own per layer); its timing is one layer alone (the
    loop's first iteration), and the step is timed from the file's loop, to the cycle what the
    same layer looped at run time gives."""
    import bitstream_format
    from compiler.coe.programs import DECODE_LOOP_PER_LAYER, ProgramShape
    from compiler.coe.session import CoESession
    from functional_sim.layer_loop import LayerLoop, loop_timing
    from functional_sim.loop_run import iteration_program
    from functional_sim.node import simulate_node

    root, _ = five_cache
    session = CoESession(FIVE, root)
    arch = session.spec.expert("b-0").architecture  # 3 layers
    for phase, per_layer in (("prefill", ()), ("decode", DECODE_LOOP_PER_LAYER)):
        shape = ProgramShape("layer", phase, 32, 1)
        assert session.programs.compile_options(arch, shape).layers == arch.layers == 3
        bs = bitstream_format.decode(session.programs.program_bytes(arch, shape))
        assert bs.loop is not None and bs.loop.trips == arch.layers
        assert bs.loop.per_iteration_inputs(bs.inputs) == per_layer
        one = iteration_program(bs, 0)
        chip = session.node.chip
        assert session.programs.timing(arch, shape).cycles == simulate_node(one, None, chip=chip, execute=False).cycles
        step = session.timer.step(arch, phase, 20, 1)
        head = step.head_cycles
        at_run_time = loop_timing(one, chip, LayerLoop(arch.layers, ((0, 0),)), session.timer.launch)
        assert step.layers == arch.layers and step.cycles == at_run_time.cycles + head
