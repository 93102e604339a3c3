"""AGCUs by deadline (`passes.allocate_units.deadline_units`): a load needed only after a pipeline
break streams, once its buffer is full, alone at its own AGCUs' rate, so it needs the AGCUs that
keep its tier busy then, not a share of the tier over the whole kernel (issue 9: Llama-2-70B's MLP
weights). The fluid model (`streamed_cycles`) it minimises is checked on cases worked by hand."""

from __future__ import annotations

import pytest

from passes.allocate_units import TierStream, balance, deadline_units, streamed_cycles

HBM = 1125.0  # sn40l: 1.8 TB/s at 1.6 GHz, bytes per cycle
AGCU = 128.0
MB = 1 << 20


def stream(mb: float, phase: int, ahead_mb: float = 0.0, cap: int = 9) -> TierStream:
    return TierStream(mb * MB, phase, ahead_mb * MB, HBM, cap)


def test_one_stream_moves_at_its_agcus_rate_below_the_tier() -> None:
    assert streamed_cycles([stream(1, 0)], [2], AGCU) == pytest.approx(MB / (2 * AGCU))
    assert streamed_cycles([stream(1, 0)], [9], AGCU) == pytest.approx(MB / HBM)  # 9 x 128 > 1125: the tier


def test_streams_at_once_share_the_tier_by_agcus() -> None:
    # 8 + 4 AGCUs ask 1,536 bytes per cycle of 1,125: shares 750 and 375; the small one ends first
    both = [stream(3, 0), stream(1, 0)]
    first = MB / 375
    rest = (3 * MB - 750 * first) / (8 * AGCU)
    assert streamed_cycles(both, [8, 4], AGCU) == pytest.approx(first + rest)


def test_a_later_phase_waits_beyond_its_buffer() -> None:
    # phase 1 streams 1 MB into its buffer while phase 0's 4 MB load runs (8 + 4 AGCUs share
    # the tier: 750 and 375 bytes per cycle), the rest after it
    streams = [stream(4, 0), stream(2, 1, ahead_mb=1)]
    t0 = MB / 375  # until the buffer is full; phase 0 has moved 2 MB
    t1 = 2 * MB / (8 * AGCU)  # phase 0's load alone
    t2 = MB / (4 * AGCU)  # phase 1's rest alone
    assert streamed_cycles(streams, [8, 4], AGCU) == pytest.approx(t0 + t1 + t2)


def llama70b_like() -> list[TierStream]:
    """The fused 70B decode layer's memory stages in short: seven small ones (norm weights, the
    token, the store), q/k/v and the caches, then `o` after the attention, then the MLP's three
    weights after the post-attention norm, each buffer holding under a quarter of its weight."""
    small = [stream(0.02, p, cap=1) for p in (0, 1, 1, 1, 4, 5, 5)]
    return [*small, stream(128, 1, 30), stream(16, 1, 4), stream(16, 1, 4), stream(8, 1), stream(8, 1),
            stream(128, 4, 30), stream(448, 5, 104), stream(448, 5, 104), stream(448, 5, 104)]


def test_the_last_phase_gets_the_agcus_that_keep_hbm_busy() -> None:
    streams = llama70b_like()
    units = deadline_units(streams, 26, AGCU)
    assert sum(units) <= 26 and all(1 <= u <= s.cap for u, s in zip(units, streams))
    mlp = units[-3:]
    assert sum(mlp) * AGCU >= HBM, units  # the MLP's weights stream alone at HBM's rate
    assert units[-4] >= 2, units  # `o` too is read alone, after the attention


def test_deadlines_beat_the_whole_kernel_balance_in_their_model() -> None:
    streams = llama70b_like()
    whole = balance([s.nbytes / AGCU for s in streams], [s.cap for s in streams], 26)
    chosen = deadline_units(streams, 26, AGCU)
    assert streamed_cycles(streams, chosen, AGCU) < 0.9 * streamed_cycles(streams, whole, AGCU)


def test_spare_agcus_never_slow_the_model() -> None:
    streams = [stream(64, 0), stream(64, 0), stream(8, 1)]
    units = deadline_units(streams, 26, AGCU)
    for i in range(len(streams)):
        fewer = list(units)
        if fewer[i] > 1:
            fewer[i] -= 1
            assert streamed_cycles(streams, fewer, AGCU) >= streamed_cycles(streams, units, AGCU) - 1e-6


def test_exchanges_reach_what_single_moves_miss() -> None:
    # `o`'s buffer holds all of `o`, the MLP's buffers 72 MB of 448: `q` and `o` each need a
    # third AGCU, but one more for either alone costs cycles (`q` ends its phase sooner and `o`
    # then streams alone at one AGCU), so growing one stage at a time stopped short
    # (q, k, v, o = 1, 3, 3, 1: 2.2 M cycles). A swap of two AGCUs at once reaches the best
    # allocation of the model, found here by trying every one of this shape.
    small = [stream(0.02, p, cap=1) for p in (0, 1, 1, 1, 4, 5, 5)]
    streams = [*small, stream(128, 1, 30), stream(16, 1, 4), stream(16, 1, 4), stream(8, 1), stream(8, 1),
               stream(128, 4, 128), stream(448, 5, 72), stream(448, 5, 72), stream(448, 5, 72)]
    chosen = deadline_units(streams, 26, AGCU)
    best = min(streamed_cycles(streams, [1] * 7 + [q, k, v, c, c, o, m, m, m], AGCU)
               for q in range(1, 10) for o in range(1, 10) for m in range(1, 6) for k in (1, 2, 3) for v in (1, 2, 3)
               for c in (1, 2) if 7 + q + k + v + 2 * c + o + 3 * m <= 26)
    assert streamed_cycles(streams, chosen, AGCU) <= best + 1e-6, chosen
