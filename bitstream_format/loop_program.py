"""The loop part of a bitstream: the program's kernels run again and again, as the paper runs a
whole decoder as one kernel (§VI, §VIII).

A decoder's layers are one configuration: the units run it once per layer, with that layer's
weights and KV cache. So a looped program is an ordinary bitstream (one iteration: the layer) plus
one optional section, `LOOP` (docs/bitstream.md, format 3.3): which kernels repeat, how many times
(`trips`), which output of an iteration is which input of the next (`carries`: the hidden state),
where each iteration finds its own copy of a tensor (`IterationAddress`: the TENS offset for
iteration 0, `base + (i - 1) * stride` for iteration i >= 1, so L layers have L weight images in
HBM), the images of iterations 1.. of each weight (iteration 0's is the ordinary memory image),
and the launch mode the compiler planned with what each iteration pays for it.

A whole decode step (format 3.4) is one file too: `prologue` kernels run once before the loop
(the embedding lookup), the loop's kernels `trips` times (the layer), `epilogue` kernels once after
it (final norm, LM head, argmax). The carried value is then an activation in HBM, not an IOMP
input and output: the prologue stores it, the loop loads it and stores its next value, which the
next iteration loads and, after the last, the epilogue. `loop_parts` cuts such a program into the
three ordinary programs a runtime runs in turn.

`loop_problem` is the reader's check of a loop against the program and the memories it runs in:
a loop the hardware could not run is refused before anything runs or is timed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

LAUNCHES = ("hardware", "software")


@dataclass(frozen=True)
class IterationAddress:
    """Tensor `tensor`'s copy for iteration i: at its TENS offset for i = 0, at `base + (i - 1) *
    stride` (same tier) for i >= 1."""

    tensor: int
    base: int
    stride: int

    def offset(self, iteration: int, first: int) -> int:
        return first if iteration == 0 else self.base + (iteration - 1) * self.stride


@dataclass(frozen=True)
class LoopProgram:
    name: str  # names the loop in messages ("layers")
    trips: int  # iterations
    kernels: tuple[int, ...]  # the kernels each iteration runs, in KERN order
    launch: str  # how the compiler planned the loop to be launched: "hardware" (AGCUs) or "software" (host)
    iteration_launch_cycles: int  # what each iteration after the first pays for it (its next base addresses)
    carries: tuple[tuple[int, int], ...]  # (output tensor, input tensor): output of iteration i is input of i + 1
    addresses: tuple[IterationAddress, ...] = ()  # tensors each iteration has its own copy of
    # (tensor, iteration >= 1) -> that iteration's bytes: the whole tensor for a tensor the NODE
    # section splits (each socket takes its part as for iteration 0), else the tensor's bytes;
    # absent for inputs (given per iteration at run time) and in a shapes-only program
    images: dict[tuple[int, int], bytes] = field(default_factory=dict, compare=False)
    prologue: tuple[int, ...] = ()  # kernels run once before the loop (format 3.4), in KERN order
    epilogue: tuple[int, ...] = ()  # kernels run once after it

    @property
    def whole_step(self) -> bool:
        """Whether the program is more than the loop: a prologue or an epilogue around it."""
        return bool(self.prologue or self.epilogue)

    def address_of(self, tensor: int) -> IterationAddress | None:
        return next((a for a in self.addresses if a.tensor == tensor), None)

    def per_iteration_inputs(self, inputs: list[int]) -> tuple[int, ...]:
        """Positions (IOMP order) of the inputs each iteration is given its own value of."""
        own = {a.tensor for a in self.addresses}
        return tuple(n for n, tid in enumerate(inputs) if tid in own)

    def carry_positions(self, inputs: list[int], outputs: list[int]) -> tuple[tuple[int, int], ...]:
        """The carries as (output position, input position) in IOMP order."""
        return tuple((outputs.index(o), inputs.index(n)) for o, n in self.carries)


def loop_problem(bs, tier_capacity: dict[str, int]) -> str | None:
    """What makes `bs.loop` impossible to run, as one sentence naming the loop (None if nothing):
    no iteration, a carried value that is not an output / input or changes dtype or shape, an
    iteration's copy of a tensor that overlaps another iteration's or lies beyond its memory."""
    loop = bs.loop
    who = f"loop {loop.name!r}"
    if loop.trips < 1:
        return f"{who} has trip count {loop.trips}: a loop runs its kernels at least once"
    if loop.launch not in LAUNCHES:
        return f"{who} names launch mode {loop.launch!r}: choose one of {', '.join(LAUNCHES)}"
    kernels = [k.id for k in bs.kernels]
    if not loop.kernels or any(k not in kernels for k in loop.kernels):
        return f"{who} loops kernels {list(loop.kernels)}, but the program has kernels {kernels}"
    if [*loop.prologue, *loop.kernels, *loop.epilogue] != kernels:
        return (f"{who}: prologue {list(loop.prologue)}, loop {list(loop.kernels)} and epilogue {list(loop.epilogue)} "
                f"must be the program's kernels {kernels} in order, each once")
    if not loop.carries:
        return f"{who} carries nothing: an output must feed the next iteration's input"
    touched = {part: tensors_of(bs, ks) for part, ks in
               (("prologue", loop.prologue), ("loop", loop.kernels), ("epilogue", loop.epilogue))}
    for o, n in loop.carries:
        if o not in bs._tensor_index or n not in bs._tensor_index:
            return f"{who} carries tensor {o} into tensor {n}, which do not both exist"
        if not loop.whole_step and (o not in bs.outputs or n not in bs.inputs):
            return f"{who} carries tensor {o} into tensor {n}, which are not an output and an input of the program"
        if loop.whole_step and (o not in touched["loop"][1] or n not in touched["loop"][0]
                                or (loop.prologue and n not in touched["prologue"][1])):
            return (f"{who} carries {bs.tensor(o).name!r} into {bs.tensor(n).name!r}: the loop must store the first "
                    f"and load the second, which the prologue stores")
        out, inp = bs.tensor(o), bs.tensor(n)
        if (out.dtype, tuple(out.shape)) != (inp.dtype, tuple(inp.shape)):
            return (f"{who} carries output {out.name!r} ({out.dtype} {tuple(out.shape)}) into input {inp.name!r} "
                    f"({inp.dtype} {tuple(inp.shape)}): a carried value must keep its dtype and shape")
        if loop.address_of(n) is not None:
            return f"{who}: input {inp.name!r} is both carried and given per iteration"
    for a in loop.addresses:
        if a.tensor not in bs._tensor_index:
            return f"{who} addresses tensor {a.tensor}, which does not exist"
        t = bs.tensor(a.tensor)
        if loop.trips > 1 and a.stride < t.nbytes:
            return (f"{who}: the copies of {t.name!r} ({t.nbytes:,} bytes) are {a.stride:,} bytes apart: "
                    f"one iteration's would overwrite the next's")
        if a.base < 0 or a.stride < 0:
            return f"{who}: tensor {t.name!r} has a negative base or stride"
        end = a.offset(loop.trips - 1, t.offset) + t.nbytes
        capacity = tier_capacity.get(t.tier, 0)
        if end > capacity:
            return (f"{who}: iteration {loop.trips - 1}'s copy of {t.name!r} ends at byte {end:,}, beyond "
                    f"{t.tier.upper()} ({capacity:,} bytes)")
    if loop.whole_step:
        once = touched["prologue"][0] | touched["epilogue"][0]
        for a in loop.addresses:
            if a.tensor in once:
                return (f"{who}: {bs.tensor(a.tensor).name!r} has a copy per iteration but the prologue or epilogue "
                        f"reads it, which runs once")
        early = [t for t in bs.outputs if t not in touched["epilogue"][1] and t not in (o for o, _ in loop.carries)]
        if loop.epilogue and early:
            return f"{who}: output {bs.tensor(early[0]).name!r} is not stored by the epilogue, which runs last"
    for (tid, i) in loop.images:
        if loop.address_of(tid) is None or not 1 <= i < loop.trips:
            return f"{who} holds an image of tensor {tid} for iteration {i}, which it does not address"
    return None


def tensors_of(bs, kernels) -> tuple[set[int], set[int]]:
    """(tensors loaded, tensors stored) by the stages of `kernels`."""
    loads, stores = set(), set()
    for kid in kernels:
        kernel = next(k for k in bs.kernels if k.id == kid)
        for sid in kernel.stages:
            st = bs.stage(sid)
            if st.tensor >= 0:
                (stores if st.opcode in ("store", "store_rows") else loads).add(st.tensor)
    return loads, stores


def _part(bs, kernels: tuple[int, ...], inputs: list[int], outputs: list[int], loop=None):
    """The program of `kernels` alone: their sections, the given IOMP inputs and outputs."""
    ks = [k for k in bs.kernels if k.id in kernels]
    sections = [replace(sec, kernels=tuple(k for k in sec.kernels if k in kernels)) for sec in bs.sections]
    return replace(bs, kernels=ks, sections=[sec for sec in sections if sec.kernels], inputs=inputs, outputs=outputs,
                   loop=loop)


def loop_parts(bs):
    """A whole-step program cut into the three a runtime runs in turn: (prologue, loop, epilogue),
    ordinary programs over the same tensors and memory plan (None for an empty prologue or
    epilogue). The loop part is a loop program like one compiled from a layer alone: the carried
    value is its input 0 and output 0; its other inputs are the program inputs its kernels load
    (per-layer ones among them). The prologue's outputs are the carried value; the epilogue's
    inputs the carried value and the program inputs it loads, its outputs the program's."""
    loop = bs.loop
    if not loop.whole_step:
        return None, bs, None
    (o, n), = loop.carries
    loads = {part: tensors_of(bs, ks)[0] for part, ks in
             (("prologue", loop.prologue), ("loop", loop.kernels), ("epilogue", loop.epilogue))}
    mine = lambda part: [t for t in bs.inputs if t in loads[part]]  # noqa: E731
    body = _part(bs, loop.kernels, [n, *mine("loop")], [o], replace(loop, prologue=(), epilogue=()))
    prologue = _part(bs, loop.prologue, mine("prologue"), [n]) if loop.prologue else None
    epilogue = _part(bs, loop.epilogue, [o, *mine("epilogue")], list(bs.outputs)) if loop.epilogue else None
    return prologue, body, epilogue


def loop_hbm_bytes(bs) -> int:
    """A socket's resident HBM with every iteration's copies: the end of the highest copy."""
    ends = [t.offset + t.nbytes for t in bs.tensors if t.tier == "hbm"]
    if bs.loop is not None:
        for a in bs.loop.addresses:
            t = bs.tensor(a.tensor)
            if t.tier == "hbm":
                ends.append(a.offset(bs.loop.trips - 1, t.offset) + t.nbytes)
    return max(ends, default=0)


def encode_loop(loop: LoopProgram, writer_class) -> bytes:
    """The LOOP section. Layout in docs/bitstream.md."""
    w = writer_class()
    w.str(loop.name)
    w.pack("I", loop.trips)
    w.ints(loop.kernels)
    w.str(loop.launch)
    w.pack("Q", loop.iteration_launch_cycles)
    w.pack("I", len(loop.carries))
    for o, n in loop.carries:
        w.pack("II", o, n)
    w.pack("I", len(loop.addresses))
    for a in sorted(loop.addresses, key=lambda a: a.tensor):
        w.pack("Iqq", a.tensor, a.base, a.stride)
        own = sorted(i for (t, i) in loop.images if t == a.tensor)
        w.pack("I", len(own))
        for i in own:
            data = loop.images[(a.tensor, i)]
            w.pack("IQ", i, len(data))
            w.parts.append(data)
    w.ints(loop.prologue)  # 3.4: after the addresses, so that a 3.3 reader, which stops there, ignores them
    w.ints(loop.epilogue)
    return w.bytes()


def decode_loop(r) -> LoopProgram:
    name = r.str()
    trips = r.one("I")
    kernels = tuple(r.ints())
    launch = r.str()
    cycles = r.one("Q")
    carries = tuple(r.unpack("II") for _ in range(r.one("I")))
    addresses, images = [], {}
    for _ in range(r.one("I")):
        tensor, base, stride = r.unpack("Iqq")
        addresses.append(IterationAddress(tensor, base, stride))
        for _ in range(r.one("I")):
            i, size = r.unpack("IQ")
            if r.pos + size > len(r.data):
                raise ValueError("section LOOP is truncated")
            images[(tensor, i)] = r.data[r.pos : r.pos + size]
            r.pos += size
    prologue = epilogue = ()
    if r.pos < len(r.data):  # 3.4: a whole step's prologue and epilogue kernels (absent in 3.3: the loop is all)
        prologue, epilogue = tuple(r.ints()), tuple(r.ints())
    return LoopProgram(name, trips, kernels, launch, cycles, carries, tuple(addresses), images, prologue, epilogue)
