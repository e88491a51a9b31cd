"""Stoikov micro-price: hand-worked chains, a simulated chain with a known answer, symmetry,
online == offline, serialisation, errors."""

from __future__ import annotations

import numpy as np
import pytest

from hftlab.errors import ConfigError, DataError
from hftlab.signals import (
    MicropriceModel,
    evaluate_microprice,
    fit_microprice,
    microprice_nb,
)


def _quotes(mids_ticks: list[float], bq: list[float], aq: list[float]) -> tuple:
    """One-tick-spread quotes in ticks around the given mids."""
    m = np.asarray(mids_ticks, dtype=float)
    return np.arange(len(m), dtype=np.int64), m - 0.5, m + 0.5, np.asarray(bq), np.asarray(aq)


def test_four_quotes_worked_by_hand() -> None:
    # n=2 buckets (L: I<1/2, H: I>=1/2), one spread. Quotes (mid, state):
    #   100.5 H -> 101.5 H (up 1) -> 101.5 L (no move) -> 100.5 L (down 1)
    # Transitions H->H +1, H->L 0, L->L -1; mirrored: L->L -1, L->H 0, H->H +1.
    # From H: 2 moves (+1, landing in H) and 1 no-move to L, so Q_HL = 1/3, R1K_H = 2/3,
    # R2_HH = 2/3; from L the mirror image. G1_H = 2/3 + G1_L/3 with G1_L = -G1_H  =>  G1_H = 1/2.
    # B = (1-Q)^-1 R2: B_HH = 2/3 + B_LH/3, B_LH = B_HH/3  =>  B_HH = 3/4, B_HL = 1/4.
    # B G1 = (3/4 - 1/4) G1 = G1/2, so g* = G1 / (1 - 1/2) = 1 tick.
    ts, bid, ask, bq, aq = _quotes([100.5, 101.5, 101.5, 100.5], [3, 3, 1, 1], [1, 1, 3, 3])
    model = fit_microprice(ts, bid, ask, bq, aq, n_imbalance=2, n_spread=1)
    np.testing.assert_allclose(model.g1, [[-0.5, 0.5]], atol=1e-12)
    np.testing.assert_allclose(model.g, [[-1.0, 1.0]], atol=1e-10)
    assert model.converged and model.n_transitions == 3 and model.n_moves == 2
    assert model.counts == [[3, 3]]
    assert model.micro_price(100.0, 101.0, 3.0, 1.0) == pytest.approx(101.5)
    assert model.next_mid(100.0, 101.0, 3.0, 1.0) == pytest.approx(101.0)


def _simulate_chain(n_steps: int, seed: int) -> tuple:
    """Quotes from a two-state chain (H: bid-heavy, L: ask-heavy), one-tick spread, in ticks.

    From H: stay 0.5, go to L 0.2 (mid unchanged), mid +1 w.p. 0.2, -1 w.p. 0.1; L mirrors H.
    After an up move the book is bid-heavy (H) w.p. 0.8, after a down move ask-heavy (L) w.p. 0.8.
    Sizes vary inside a state so consecutive quotes are rarely identical.
    """
    rng = np.random.default_rng(seed)
    u = rng.random(n_steps)
    land = rng.random(n_steps)
    size = rng.integers(3, 6, n_steps).astype(float)
    heavy = np.empty(n_steps, dtype=bool)  # True: H
    mid = np.empty(n_steps)
    h, m = True, 1000.5
    for i in range(n_steps):
        heavy[i], mid[i] = h, m
        up = 0.2 if h else 0.1  # the down probability is 0.3 - up
        x = u[i]
        if x < 0.5:
            pass
        elif x < 0.7:
            h = not h
        elif x < 0.7 + up:
            m += 1.0
            h = land[i] < 0.8
        else:
            m -= 1.0
            h = land[i] >= 0.8
    bq = np.where(heavy, size, 1.0)
    aq = np.where(heavy, 1.0, size)
    return np.arange(n_steps, dtype=np.int64) * 1000, mid - 0.5, mid + 0.5, bq, aq


def test_simulated_chain_recovers_known_micro_price() -> None:
    # Known answer, by hand. First move from H is up w.p. U_H: U_H + U_L = 1 and
    # (U_H - U_L)(1 - 0.5 + 0.2) = 0.2 - 0.1  =>  U_H = 4/7, so G1_H = U_H - D_H = 1/7 tick.
    # After the move: B_HH = (4/7)(0.8) + (3/7)(0.2) = 3.8/7, B_HL = 3.2/7, hence
    # B G1 = (B_HH - B_HL) G1 = (3/35) G1 and g* = G1 / (1 - 3/35) = 5/32 tick.
    ts, bid, ask, bq, aq = _simulate_chain(200_000, seed=11)
    model = fit_microprice(ts, bid, ask, bq, aq, n_imbalance=2, n_spread=2)
    assert model.g1[0][1] == pytest.approx(1 / 7, abs=0.005)
    assert model.g[0][1] == pytest.approx(5 / 32, abs=0.005)
    assert model.g[0][0] == -model.g[0][1]
    assert model.g[1] == [0.0, 0.0]  # spread 2 never seen: no information, no adjustment
    assert model.converged
    # Out of sample (another seed): both estimators beat the mid; G1 is the best one-step one.
    ev = evaluate_microprice(model, *_simulate_chain(50_000, seed=12))
    assert ev.points > 40_000
    assert ev.mse_g1 < ev.mse_micro < ev.mse_mid
    assert ev.reduction > 0


def _random_walk_quotes(n: int, seed: int) -> tuple:
    """Quotes with spreads 1-4 ticks, random sizes and a mid random walk in half ticks."""
    rng = np.random.default_rng(seed)
    bid = 10_000 + np.cumsum(rng.integers(-1, 2, n))
    spread = rng.integers(1, 5, n)
    return (
        np.cumsum(rng.integers(1, 1_000_000, n)),
        bid.astype(float),
        (bid + spread).astype(float),
        rng.random(n) * 10,
        rng.random(n) * 10,
    )


def test_adjustment_is_antisymmetric_at_equal_spread() -> None:
    ts, bid, ask, bq, aq = _random_walk_quotes(20_000, seed=5)
    for bucketing in ("uniform", "quantile"):
        model = fit_microprice(
            ts, bid, ask, bq, aq, n_imbalance=10, n_spread=4, bucketing=bucketing
        )
        g = np.asarray(model.g)
        np.testing.assert_array_equal(g, -g[:, ::-1])  # g(b) = -g(n-1-b), exactly
        np.testing.assert_allclose(model.edges, 1.0 - np.asarray(model.edges[::-1]), atol=1e-15)
        for imb in (0.03, 0.21, 0.37, 0.49, 0.62, 0.9):
            for s in (1, 2, 3, 4, 7):
                assert model.adjustment(imb, s) == -model.adjustment(1.0 - imb, s)


def test_online_equals_offline() -> None:
    ts, bid, ask, bq, aq = _random_walk_quotes(5_000, seed=6)
    tick = 0.01
    bid, ask = bid * tick, ask * tick  # prices in price units this time
    model = fit_microprice(ts, bid, ask, bq, aq, tick_size=tick, n_imbalance=7, n_spread=3)
    inner, g = model.arrays()
    offline = model.apply(bid, ask, bq, aq)
    next_offline = model.apply(bid, ask, bq, aq, table="g1")
    for i in range(0, 5_000, 7):
        online = model.micro_price(float(bid[i]), float(ask[i]), float(bq[i]), float(aq[i]))
        assert online == pytest.approx(offline[i], rel=1e-13)
        nb = microprice_nb(inner, g, tick, bid[i], ask[i], bq[i], aq[i])
        assert nb == pytest.approx(offline[i], rel=1e-13)
        assert model.next_mid(bid[i], ask[i], bq[i], aq[i]) == pytest.approx(next_offline[i])
    # The same table serves integer-tick prices.
    in_ticks = model.with_tick_size(1.0)
    assert in_ticks.micro_price(10_000.0, 10_001.0, 3.0, 1.0) == pytest.approx(
        model.micro_price(100.0, 100.01, 3.0, 1.0) / tick, rel=1e-12
    )


def test_crossed_or_empty_quotes_give_the_mid() -> None:
    ts, bid, ask, bq, aq = _quotes([100.5, 101.5, 101.5, 100.5], [3, 3, 1, 1], [1, 1, 3, 3])
    model = fit_microprice(ts, bid, ask, bq, aq, n_imbalance=2, n_spread=1)
    assert model.micro_price(101.0, 100.0, 3.0, 1.0) == 100.5  # crossed
    assert model.micro_price(100.0, 101.0, 0.0, 0.0) == 100.5  # no size
    np.testing.assert_array_equal(
        model.apply([101.0, 100.0], [100.0, 101.0], [3.0, 0.0], [1.0, 0.0]), [100.5, 100.5]
    )


def test_invalid_quotes_break_the_chain_and_big_moves_can_be_dropped() -> None:
    # Row 2 is crossed: the transitions 1->2 and 2->3 are skipped, 0->1 and 3->4 remain.
    ts = np.arange(5, dtype=np.int64)
    bid = np.array([100.0, 101.0, 105.0, 101.0, 100.0])
    ask = np.array([101.0, 102.0, 104.0, 102.0, 101.0])
    bq = np.array([3.0, 3.0, 1.0, 1.0, 1.0])
    aq = np.array([1.0, 1.0, 1.0, 3.0, 3.0])
    model = fit_microprice(ts, bid, ask, bq, aq, n_imbalance=2, n_spread=1)
    assert model.n_transitions == 2 and model.n_samples == 4
    # A 5-tick jump is dropped with max_move_ticks=1 (the paper's filter); the rest stays.
    bid2 = np.array([100.0, 101.0, 106.0, 106.0])
    ask2 = bid2 + 1.0
    model = fit_microprice(
        ts[:4], bid2, ask2, bq[:4], aq[:4], n_imbalance=2, n_spread=1, max_move_ticks=1
    )
    assert model.n_transitions == 2 and model.n_moves == 1


def test_clock_sampling_uses_the_quote_just_before_each_grid_point() -> None:
    ts = np.array([0, 1_500, 2_000, 2_500, 5_000], dtype=np.int64)
    bid = np.array([100.0, 101.0, 102.0, 101.0, 100.0])
    ask = bid + 1.0
    bq = np.array([3.0, 3.0, 1.0, 1.0, 3.0])
    aq = np.array([1.0, 1.0, 3.0, 3.0, 1.0])
    # Grid 1000, 2000, ..., 5000: quotes before each are rows 0, 1 (ts 1500 < 2000), 3, 3, 3.
    model = fit_microprice(ts, bid, ask, bq, aq, n_imbalance=2, n_spread=1, sample_interval_ns=1000)
    assert model.n_samples == 5 and model.n_transitions == 4
    assert model.sample_interval_ns == 1000


def test_serialisation_roundtrip(tmp_path) -> None:
    ts, bid, ask, bq, aq = _random_walk_quotes(2_000, seed=7)
    model = fit_microprice(ts, bid, ask, bq, aq, n_imbalance=5, n_spread=2)
    assert MicropriceModel.from_json(model.to_json()) == model
    path = tmp_path / "micro.json"
    model.save(path)
    loaded = MicropriceModel.load(path)
    assert loaded == model
    assert loaded.micro_price(100.0, 101.0, 2.0, 1.0) == model.micro_price(100.0, 101.0, 2.0, 1.0)
    with pytest.raises(DataError, match="invalid micro-price model"):
        MicropriceModel.from_json(b'{"n_imbalance": "x"}')
    (tmp_path / "bad.json").write_bytes(b"[]")
    with pytest.raises(DataError, match=r"bad\.json"):
        MicropriceModel.load(tmp_path / "bad.json")


def test_bad_input_and_parameters() -> None:
    ts, bid, ask, bq, aq = _quotes([100.5, 101.5, 101.5], [3, 3, 1], [1, 1, 3])
    with pytest.raises(DataError, match="differ in length"):
        fit_microprice(ts, bid, ask[:2], bq, aq)
    with pytest.raises(DataError, match="back in time at row 2"):
        fit_microprice(np.array([0, 5, 3]), bid, ask, bq, aq)
    with pytest.raises(ConfigError, match="n_imbalance"):
        fit_microprice(ts, bid, ask, bq, aq, n_imbalance=0)
    with pytest.raises(ConfigError, match="tick_size"):
        fit_microprice(ts, bid, ask, bq, aq, tick_size=-1)
    with pytest.raises(ConfigError, match="bucketing"):
        fit_microprice(ts, bid, ask, bq, aq, bucketing="log")
    with pytest.raises(DataError, match="no usable quote transitions"):
        fit_microprice(ts, ask, bid, bq, aq)  # every quote crossed
