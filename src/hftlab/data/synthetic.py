"""The embedded synthetic market: seeded, deterministic L2 depth, trades and BBO.

This is the market the demo, tests and benchmarks run on when no real data is given. One venue,
``synth``, with three instruments forming a triangle:

=========  =========  =========  =====  =====  ============================================
symbol     tick       lot        base   quote  ~price
=========  =========  =========  =====  =====  ============================================
BTCUSDT    1.0        0.0001     BTC    USDT   60,000 (tick = 0.17 bp)
ETHUSDT    0.1        0.001      ETH    USDT   3,000 (tick = 0.33 bp)
ETHBTC     0.00001    0.001      ETH    BTC    0.05 (tick = 2 bp, as on Binance)
=========  =========  =========  =====  =====  ============================================

Ticks are coarser than Binance spot's so that the touch is a *large-tick* market: a best level
lives for ~0.2-0.5 s and tens of updates, long enough for a queue to build and be eaten by trades
and cancellations, which is what queue-position fill models need to disagree on.

Same options and seed give **byte-identical Parquet files** (own xoshiro256** generator, resumable
compiled kernel: the output does not depend on chunking or on the numba version).

Model
-----
*Latent prices.* log BTC/USDT and log ETH/USDT are correlated Brownian motions (rho = 0.8;
calm vol 0.25 and 0.30 bp/sqrt(s)), sampled exactly at every event time. A 2-state Markov regime
(calm <-> volatile; mean spells 120 s and 30 s) multiplies volatility by 3, event rates by 1.8 and
widens the quote anchor (spreads). The fair ETH/BTC is their ratio, except during *mispricing
episodes* (only when all three instruments are generated): Poisson arrivals (1 per 20 s),
lognormal duration (median 0.5 s, 0.1-3 s), lognormal size (median 12 bp, 5-50 bp), random
direction; during one, fair ETH/BTC = ratio x (1 + direction x size).

*Order flow*, per instrument, a zero-intelligence model whose order-flow imbalance tracks the fair
price ``f`` (in ticks). Competing event streams, intensities piecewise constant between events:

- limit orders (rate ``limit_rate``; + ``replenish`` x Hawkes excitation): side 50/50, placed
  ``d ~ Geometric(depth_p)`` ticks behind the anchor ``floor(f - h)`` (bids) / ``ceil(f + h)``
  (asks), never marketable (at worst one tick inside the opposite best, improving the spread);
  lognormal sizes. ``h`` (0.1-0.2 ticks calm, 0.6-0.7 volatile) sets the 1-vs-2-tick spread mix.
- cancellations: rate ``cancel_rate`` per resting average-sized order, the level picked in
  proportion to its size (so mostly at and near the touch) and one order's worth removed; plus
  quotes sitting *through* fair (an ask below ``f``, a bid above it) are pulled at
  ``stale_cancel_rate`` per order per tick through (capped at 5), and pulled harder the deeper
  they are (whole when 5 ticks through). This is how makers follow the fair price.
- market orders: intensity ``market_rate`` + a Hawkes excitation (jump ``hawkes_alpha`` per order,
  decay ``hawkes_beta``; branching ratio 0.5-0.6) so trades cluster; side buy with probability
  ``logistic(kappa (f - mid))``; Pareto sizes (tail index 1.5, capped); they walk up to
  ``sweep_levels`` levels (a protection band) printing one trade per level.

A side is never emptied (a venue's book always has both). Parameters are in ``FLOW``, ``MARKET``
and ``LATENCY`` below. A 30 s warm-up runs before the opening snapshot so the book starts in its
stationary shape. With the defaults, 1M rows cover about 6 minutes of exchange time (BTCUSDT
alone: about 11 minutes); ~72% depth, ~7% trades, ~21% BBO. Event rates are calibrated so that
BTCUSDT's ~1,560 rows/s matches the real Binance USD-M BTCUSDT capture in ``shared/data``
(533k rows in 345 s): a backtest on it sees as many events per strategy wake-up as on the venue.

Channels (store schemas of :mod:`hftlab.events`, venue ``synth``)
-----------------------------------------------------------------
``depth``  an opening ``CLEAR`` + ``SNAPSHOT`` rows (first = last update id = the snapshot's
           lastUpdateId, prev -1), then ``DEPTH`` rows with absolute new quantities. Every book
           change is one message with ``first_update_id`` = previous ``last_update_id`` + 1,
           ``last_update_id`` = + levels changed, ``prev_update_id`` = previous message's
           ``last_update_id`` (a futures-style ``pu``); a sweep's levels share one message.
``trade``  aggressor side, consecutive trade ids.
``bbo``    a row whenever best price or size changes; ``update_id`` is the depth update id after
           which it holds (as Binance's bookTicker ``u``).

Feed latency: ``ts_local = ts_exchange + latency``, each stream (instrument x channel) with its own
process: base (bbo 6 ms, trade 18 ms, depth 25 ms, +1.5 ms per instrument) + exponential jitter
+ *stalls* (one per 25 s on average, lognormal 5 ms-1.5 s: everything sent during a stall arrives
when it clears). ``ts_local`` never decreases within a stream (TCP keeps order), so across streams
arrival order differs from exchange order. Rows of one message share ``ts_local``.

Labels
------
When BTCUSDT, ETHUSDT and ETHBTC are all generated, ``labels/mispricings.parquet`` at the store
root (outside ``venue=…``, so store readers ignore it), one row per episode:

=============  =======  ==================================================================
column         type     meaning
=============  =======  ==================================================================
start_ns       int64    ts_exchange when the fair ETH/BTC leaves the triangle
end_ns         int64    ts_exchange when it returns (or the last event, if cut by the end)
instrument     string   the leg that is mispriced: ``ETHBTC``
size_bps       float64  size of the deviation of fair ETHBTC from ETHUSDT/BTCUSDT, in bp
direction      int8     +1: ETHBTC rich (above ETHUSDT/BTCUSDT), -1: cheap
=============  =======  ==================================================================

The book follows the shifted fair price within tens of ms, so the observable deviation lags the
label's start a little and decays after its end.

Options: ``events`` (total rows over all streams, exact: generation is cut at the N-th row in
exchange time; the last message may be cut short), ``duration_s`` (exchange seconds; with both,
whichever ends first), ``instruments``, ``seed``, ``start_ns``.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hftlab.data import _synth_kernel as K
from hftlab.data.store import DEFAULT_ROW_GROUP_ROWS, ChannelWriter, Store, table_to_events
from hftlab.errors import ConfigError
from hftlab.events import (
    CHANNEL_SCHEMAS,
    EVENT_DTYPE,
    NO_ID,
    Channel,
    EventKind,
    Instrument,
)

log = logging.getLogger(__name__)

VENUE: Final = "synth"
SYMBOLS: Final = ("BTCUSDT", "ETHUSDT", "ETHBTC")
#: 2024-01-15T00:00:00Z: the default start of the synthetic tape.
DEFAULT_START_NS: Final = 1_705_276_800_000_000_000
LABELS_PATH: Final = Path("labels") / "mispricings.parquet"
WARMUP_S: Final = 30.0  # simulated before the opening snapshot so the book has its shape
CHUNK_ROWS: Final = 1 << 19  # rows per kernel call: bounds memory whatever the event count
_UID0: Final = 1_000_000_000  # depth update ids start here (before the warm-up)
_TID0: Final = 100_000_000  # trade ids start here

#: The three instruments of the synthetic venue (Binance-like lots; ticks are coarser than
#: Binance spot so that the touch is a large-tick market where queues build up).
INSTRUMENTS: Final[dict[str, Instrument]] = {
    "BTCUSDT": Instrument(
        venue=VENUE, symbol="BTCUSDT", tick_size=1.0, lot_size=0.0001, base="BTC", quote="USDT"
    ),
    "ETHUSDT": Instrument(
        venue=VENUE, symbol="ETHUSDT", tick_size=0.1, lot_size=0.001, base="ETH", quote="USDT"
    ),
    "ETHBTC": Instrument(
        venue=VENUE, symbol="ETHBTC", tick_size=0.00001, lot_size=0.001, base="ETH", quote="BTC"
    ),
}


@dataclass(frozen=True)
class _FlowParams:
    """Order-flow parameters of one instrument, calm regime; sizes in base units."""

    fair: int  # 0 BTC/USDT, 1 ETH/USDT, 2 ETH/BTC
    limit_rate: float  # limit-order arrivals (1/s)
    market_rate: float  # baseline market-order intensity (1/s)
    hawkes_alpha: float  # intensity jump per market order (1/s)
    hawkes_beta: float  # decay (1/s); branching ratio alpha/beta
    replenish: float  # limit arrivals per unit of Hawkes excitation
    cancel_rate: float  # per resting average-sized order (1/s)
    stale_cancel_rate: float  # extra, per order per tick a quote sits through fair (1/s)
    limit_median: float  # lognormal median limit-order size
    limit_sigma: float  # lognormal log-sd
    market_scale: float  # Pareto scale of market-order sizes
    market_alpha: float  # Pareto tail index
    market_cap: float  # largest market order
    depth_p: float  # placement distance ~ Geometric: P(d) = (1-p) p^d ticks
    depth_max: int  # ticks
    anchor_calm: float  # quote anchor at fair -/+ this many ticks (calm)
    anchor_volatile: float  # same, volatile regime
    kappa: float  # P(buy) = logistic(kappa * (fair - mid) / tick)
    sweep_levels: int  # levels a market order may walk


FLOW: Final[dict[str, _FlowParams]] = {
    "BTCUSDT": _FlowParams(
        fair=0, limit_rate=400.0, market_rate=32.0, hawkes_alpha=19.2, hawkes_beta=32.0,
        replenish=0.5, cancel_rate=1.6, stale_cancel_rate=40.0, limit_median=0.05,
        limit_sigma=1.0, market_scale=0.01, market_alpha=1.5, market_cap=2.0, depth_p=0.7,
        depth_max=40, anchor_calm=0.2, anchor_volatile=0.7, kappa=1.5, sweep_levels=10,
    ),
    "ETHUSDT": _FlowParams(
        fair=1, limit_rate=320.0, market_rate=24.0, hawkes_alpha=19.2, hawkes_beta=32.0,
        replenish=0.5, cancel_rate=1.6, stale_cancel_rate=40.0, limit_median=1.0,
        limit_sigma=1.0, market_scale=0.2, market_alpha=1.5, market_cap=40.0, depth_p=0.7,
        depth_max=40, anchor_calm=0.2, anchor_volatile=0.7, kappa=1.5, sweep_levels=10,
    ),
    "ETHBTC": _FlowParams(
        fair=2, limit_rate=120.0, market_rate=10.0, hawkes_alpha=16.0, hawkes_beta=32.0,
        replenish=0.5, cancel_rate=1.6, stale_cancel_rate=40.0, limit_median=1.5,
        limit_sigma=1.0, market_scale=0.3, market_alpha=1.5, market_cap=30.0, depth_p=0.6,
        depth_max=30, anchor_calm=0.1, anchor_volatile=0.6, kappa=1.5, sweep_levels=8,
    ),
}


@dataclass(frozen=True)
class _MarketParams:
    """Latent prices, regimes and mispricing episodes."""

    btc_price: float = 60_000.0
    eth_price: float = 3_000.0
    btc_vol: float = 0.25e-4  # log-price sd per sqrt(second), calm (~14% annualised)
    eth_vol: float = 0.30e-4
    correlation: float = 0.8
    volatile_vol_mult: float = 3.0
    volatile_rate_mult: float = 1.8
    calm_to_volatile: float = 1 / 120  # 1/s: calm spells last 2 min on average
    volatile_to_calm: float = 1 / 30  # 1/s: volatile spells 30 s
    mispricing_rate: float = 1 / 20  # 1/s
    mispricing_dur: tuple[float, float, float, float] = (0.5, 0.6, 0.1, 3.0)  # med, sd, min, max s
    mispricing_bps: tuple[float, float, float, float] = (12.0, 0.4, 5.0, 50.0)


MARKET: Final = _MarketParams()


@dataclass(frozen=True)
class _LatencyParams:
    """Feed latency of one channel: base + Exp(jitter) + stalls (ms)."""

    base_ms: float
    jitter_ms: float
    stall_every_s: float = 25.0
    stall_ms: tuple[float, float, float, float] = (40.0, 1.0, 5.0, 1500.0)  # med, sd, min, max


LATENCY: Final[dict[Channel, _LatencyParams]] = {
    Channel.DEPTH: _LatencyParams(base_ms=25.0, jitter_ms=2.0),
    Channel.TRADE: _LatencyParams(base_ms=18.0, jitter_ms=1.5),
    Channel.BBO: _LatencyParams(base_ms=6.0, jitter_ms=0.8),
}
_CHANNELS: Final = (Channel.DEPTH, Channel.TRADE, Channel.BBO)  # stream = instrument*3 + index


# ============================================================================ results
@dataclass
class SynthSummary:
    """What :func:`synthesize` wrote."""

    root: Path
    instruments: list[Instrument]
    rows: int
    rows_by_stream: dict[str, int]
    start_ns: int  # first ts_exchange
    end_ns: int  # last ts_exchange
    mispricings: int
    generate_s: float  # kernel and column building
    write_s: float  # Parquet encoding and files
    files: list[Path] = field(default_factory=list)

    @property
    def span_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass
class SynthData:
    """The synthetic market in memory: one Arrow table per (symbol, channel), and labels."""

    instruments: list[Instrument]
    tables: dict[tuple[str, Channel], pa.Table]
    labels: pa.Table | None  # None unless the whole triangle was generated

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.tables.values())


LABEL_SCHEMA: Final = pa.schema(
    [
        pa.field("start_ns", pa.int64(), nullable=False),
        pa.field("end_ns", pa.int64(), nullable=False),
        pa.field("instrument", pa.string(), nullable=False),
        pa.field("size_bps", pa.float64(), nullable=False),
        pa.field("direction", pa.int8(), nullable=False),
    ]
)


# ============================================================================ options
def _resolve_symbols(instruments: Sequence[str] | None) -> list[str]:
    if instruments is None:
        return list(SYMBOLS)
    if isinstance(instruments, str):
        instruments = [instruments]
    wanted = []
    for name in instruments:
        symbol = name.split("/", 1)[1] if name.startswith(f"{VENUE}/") else name
        symbol = symbol.upper()
        if symbol not in SYMBOLS:
            raise ConfigError(
                f"unknown synthetic instrument {name!r} (choose from {', '.join(SYMBOLS)})"
            )
        wanted.append(symbol)
    if not wanted:
        raise ConfigError("no instrument selected (choose from BTCUSDT, ETHUSDT, ETHBTC)")
    return [s for s in SYMBOLS if s in wanted]  # canonical order: the output must not depend on it


def _check_options(events: int | None, duration_s: float | None, seed: int) -> tuple[int, float]:
    if events is None and duration_s is None:
        from hftlab.config import get_settings

        events = get_settings().synth_events
    if events is not None and (isinstance(events, bool) or int(events) != events or events < 1):
        raise ConfigError(f"events must be a positive integer, got {events!r}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise ConfigError(f"duration must be a positive number of seconds, got {duration_s!r}")
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**63:
        raise ConfigError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    budget = int(events) if events is not None else np.iinfo(np.int64).max
    t_end = float(duration_s) if duration_s is not None else math.inf
    return budget, t_end


# ============================================================================ generation
def _seed_state(seed: int) -> np.ndarray:
    """xoshiro256** state from a seed via splitmix64 (the generator authors' recommendation)."""
    mask = (1 << 64) - 1
    x = seed & mask
    words = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & mask
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        words.append(z ^ (z >> 31))
    return np.array(words, dtype=np.uint64)


class _Sim:
    """Arrays of the compiled model for one run."""

    def __init__(self, symbols: list[str], seed: int, start_ns: int) -> None:
        self.symbols = symbols
        self.instruments = [INSTRUMENTS[s] for s in symbols]
        self.start_ns = start_ns
        n = len(symbols)
        m = MARKET
        ip = np.zeros((n, K.N_IP))
        for i, sym in enumerate(symbols):
            p, inst = FLOW[sym], INSTRUMENTS[sym]
            lot = inst.lot_size
            ip[i, K.I_FAIR] = p.fair
            ip[i, K.I_TICK] = inst.tick_size
            ip[i, K.I_LAM_L] = p.limit_rate
            ip[i, K.I_MU_M] = p.market_rate
            ip[i, K.I_H_ALPHA] = p.hawkes_alpha
            ip[i, K.I_H_BETA] = p.hawkes_beta
            ip[i, K.I_GAMMA_L] = p.replenish
            ip[i, K.I_NU] = p.cancel_rate
            ip[i, K.I_NU_STALE] = p.stale_cancel_rate
            mu = math.log(p.limit_median / lot)
            ip[i, K.I_LIM_MU] = mu
            ip[i, K.I_LIM_SIG] = p.limit_sigma
            ip[i, K.I_SBAR] = math.exp(mu + p.limit_sigma**2 / 2)
            ip[i, K.I_MKT_XM] = p.market_scale / lot
            ip[i, K.I_MKT_ALPHA] = p.market_alpha
            ip[i, K.I_MKT_CAP] = p.market_cap / lot
            ip[i, K.I_DEPTH_P] = p.depth_p
            ip[i, K.I_DEPTH_MAX] = p.depth_max
            ip[i, K.I_H_CALM] = p.anchor_calm
            ip[i, K.I_H_VOL] = p.anchor_volatile
            ip[i, K.I_KAPPA] = p.kappa
            ip[i, K.I_SWEEP_MAX] = p.sweep_levels
        gp = np.zeros(K.N_GP)
        gp[K.G_SIG_B] = m.btc_vol
        gp[K.G_SIG_E] = m.eth_vol
        gp[K.G_RHO] = m.correlation
        gp[K.G_SIG_MULT] = m.volatile_vol_mult
        gp[K.G_RATE_MULT] = m.volatile_rate_mult
        gp[K.G_SW_CV] = m.calm_to_volatile
        gp[K.G_SW_VC] = m.volatile_to_calm
        # Mispricings are defined against the triangle: only when all three legs exist.
        gp[K.G_MP_RATE] = m.mispricing_rate if len(symbols) == len(SYMBOLS) else 0.0
        gp[K.G_MP_DUR_MED : K.G_MP_DUR_MAX + 1] = m.mispricing_dur
        gp[K.G_MP_SIZE_MED : K.G_MP_SIZE_MAX + 1] = m.mispricing_bps
        gp[K.G_P0B] = m.btc_price
        gp[K.G_P0E] = m.eth_price
        lp = np.zeros((3 * n, K.N_LP))
        for i in range(n):
            for c, channel in enumerate(_CHANNELS):
                lat = LATENCY[channel]
                s = 3 * i + c
                # A little per-instrument skew: streams never share a latency profile exactly.
                lp[s, K.L_BASE] = (lat.base_ms + 1.5 * i) * 1e6
                lp[s, K.L_JIT] = lat.jitter_ms * 1e6
                lp[s, K.L_STALL_RATE] = 1.0 / lat.stall_every_s
                med, sd, lo, hi = lat.stall_ms
                lp[s, K.L_STALL_MED] = med * 1e6
                lp[s, K.L_STALL_SIG] = sd
                lp[s, K.L_STALL_MIN] = lo * 1e6
                lp[s, K.L_STALL_MAX] = hi * 1e6
        self.ip, self.gp, self.lp = ip, gp, lp
        self.gs = np.zeros(K.N_GS)
        self.gs[K.S_T] = -WARMUP_S
        self.gi = np.zeros(K.N_GI, dtype=np.int64)
        self.gi[K.GI_SNAP] = 1
        self.gi[K.GI_LAST_TS] = start_ns
        self.ss = np.zeros((3 * n, K.N_SS), dtype=np.int64)
        self.ss[:, K.Z_LAST_LOCAL] = np.iinfo(np.int64).min
        self.ss[:, K.Z_MSG_TS] = np.iinfo(np.int64).min
        self.ss[:, K.Z_NEXT_STALL] = -1
        self.rng = _seed_state(seed)
        self.fst = np.zeros((n, K.N_FST))
        self.ist = np.zeros((n, K.N_IST), dtype=np.int64)
        self.ist[:, K.X_UID] = _UID0
        self.ist[:, K.X_TID] = _TID0
        self.ist[:, K.X_LBP : K.X_LAQ + 1] = -1
        self.book = np.zeros((n, 2, K.W), dtype=np.int64)
        # A flat seed book around fair; the warm-up gives it the model's own shape.
        for i in range(n):
            f = K._fair_ticks(ip, gp, self.gs, i)
            base = math.floor(f) - K.HALF
            self.ist[i, K.X_BASE] = base
            lots = round(3 * ip[i, K.I_SBAR])
            for d in range(1, 16):
                self.book[i, 0, math.floor(f) - d - base] = lots
                self.book[i, 1, math.floor(f) + d - base] = lots
            K._rescan(self.book, self.ist, i)
        slack = n * (2 * K.W + 2) + 2 * K.W + 4 * K.MAX_SWEEP + 64
        self.out = np.zeros((CHUNK_ROWS + slack, K.N_OUT), dtype=np.int64)
        self.labels = np.zeros((4096, K.N_LAB), dtype=np.int64)

    def step(self, t_end: float, budget: int, emit: bool) -> tuple[np.ndarray, np.ndarray, bool]:
        n, nlab, status = K.run(
            self.ip, self.gp, self.lp, self.book, self.ist, self.fst, self.gs, self.gi, self.ss,
            self.rng, self.out, self.labels, self.start_ns, t_end, budget, CHUNK_ROWS, emit,
        )
        return self.out[:n], self.labels[:nlab], status == K.ST_DONE


@dataclass
class _Chunk:
    columns: dict[tuple[str, Channel], dict[str, np.ndarray]]
    labels: np.ndarray
    rows: int
    progress: float  # fraction of the run done


def _chunks(
    symbols: list[str], seed: int, budget: int, t_end: float, start_ns: int
) -> Iterator[_Chunk]:
    sim = _Sim(symbols, seed, start_ns)
    sim.step(0.0, budget, emit=False)  # warm-up: from -WARMUP_S to the opening snapshot
    done_rows = 0
    done = False
    while not done:
        rows, labels, done = sim.step(t_end, budget, emit=True)
        done_rows += len(rows)
        t = float(sim.gs[K.S_T])
        progress = 1.0 if done else max(
            done_rows / budget, t / t_end if math.isfinite(t_end) else 0.0
        )
        yield _Chunk(_split(rows, sim.instruments), labels.copy(), len(rows), min(progress, 1.0))


def _split(
    rows: np.ndarray, instruments: list[Instrument]
) -> dict[tuple[str, Channel], dict[str, np.ndarray]]:
    """Kernel rows -> per-stream column dicts in the store schemas (prices/sizes as floats)."""
    stream = rows[:, K.O_STREAM]
    order = np.argsort(stream, kind="stable")  # keeps each stream in generation order
    counts = np.bincount(stream, minlength=3 * len(instruments))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    out: dict[tuple[str, Channel], dict[str, np.ndarray]] = {}
    for i, inst in enumerate(instruments):
        for c, channel in enumerate(_CHANNELS):
            s = 3 * i + c
            if counts[s] == 0:
                continue
            r = rows[order[bounds[s] : bounds[s + 1]]]
            cols: dict[str, np.ndarray] = {
                "ts_exchange": r[:, K.O_TSX],
                "ts_local": r[:, K.O_TSL],
            }
            if channel is Channel.DEPTH:
                cols["kind"] = r[:, K.O_KIND].astype(np.uint8)
                cols["side"] = r[:, K.O_SIDE].astype(np.int8)
                price = inst.ticks_to_price(r[:, K.O_P1])
                cols["price"] = np.where(cols["kind"] == EventKind.CLEAR, 0.0, price)
                cols["qty"] = inst.lots_to_qty(r[:, K.O_Q1])
                cols["first_update_id"] = r[:, K.O_ID1]
                cols["last_update_id"] = r[:, K.O_ID2]
                cols["prev_update_id"] = np.where(r[:, K.O_ID3] < 0, NO_ID, r[:, K.O_ID3])
            elif channel is Channel.TRADE:
                cols["side"] = r[:, K.O_SIDE].astype(np.int8)
                cols["price"] = inst.ticks_to_price(r[:, K.O_P1])
                cols["qty"] = inst.lots_to_qty(r[:, K.O_Q1])
                cols["trade_id"] = r[:, K.O_ID1]
            else:
                cols["bid_price"] = inst.ticks_to_price(r[:, K.O_P1])
                cols["bid_qty"] = inst.lots_to_qty(r[:, K.O_Q1])
                cols["ask_price"] = inst.ticks_to_price(r[:, K.O_P2])
                cols["ask_qty"] = inst.lots_to_qty(r[:, K.O_Q2])
                cols["update_id"] = r[:, K.O_ID1]
            cols["flags"] = np.zeros(len(r), dtype=np.uint8)
            out[(inst.symbol, channel)] = {
                name: np.ascontiguousarray(cols[name]) for name in CHANNEL_SCHEMAS[channel].names
            }
    return out


def _labels_table(parts: list[np.ndarray]) -> pa.Table:
    lab = np.concatenate(parts) if parts else np.zeros((0, K.N_LAB), dtype=np.int64)
    return pa.Table.from_arrays(
        [
            pa.array(lab[:, K.B_START], pa.int64()),
            pa.array(lab[:, K.B_END], pa.int64()),
            pa.array(["ETHBTC"] * len(lab), pa.string()),
            pa.array(lab[:, K.B_SIZE_MBP] / 1000.0, pa.float64()),
            pa.array(lab[:, K.B_DIR].astype(np.int8), pa.int8()),
        ],
        schema=LABEL_SCHEMA,
    )


# ============================================================================ public API
def synthesize_tables(
    *,
    events: int | None = None,
    duration_s: float | None = None,
    instruments: Sequence[str] | None = None,
    seed: int = 7,
    start_ns: int = DEFAULT_START_NS,
) -> SynthData:
    """Generate the synthetic market in memory (for tests and benchmarks).

    Parameters are those of :func:`synthesize`. Tables follow the store schemas of
    :mod:`hftlab.events` and are sorted by ``ts_local``.

    Returns
    -------
    SynthData
        One Arrow table per (symbol, channel) that has rows, and the mispricing labels.
    """
    symbols = _resolve_symbols(instruments)
    budget, t_end = _check_options(events, duration_s, seed)
    parts: dict[tuple[str, Channel], list[dict[str, np.ndarray]]] = {}
    label_parts: list[np.ndarray] = []
    for chunk in _chunks(symbols, int(seed), budget, t_end, int(start_ns)):
        for key, cols in chunk.columns.items():
            parts.setdefault(key, []).append(cols)
        label_parts.append(chunk.labels)
    tables = {}
    for key, chunks in parts.items():
        schema = CHANNEL_SCHEMAS[key[1]]
        tables[key] = pa.Table.from_arrays(
            [pa.array(np.concatenate([c[name] for c in chunks])) for name in schema.names],
            schema=schema,
        )
    labels = _labels_table(label_parts) if len(symbols) == len(SYMBOLS) else None
    return SynthData([INSTRUMENTS[s] for s in symbols], tables, labels)


def synthesize_events(
    *,
    events: int | None = None,
    duration_s: float | None = None,
    instruments: Sequence[str] | None = None,
    seed: int = 7,
    start_ns: int = DEFAULT_START_NS,
) -> tuple[np.ndarray, list[Instrument]]:
    """The synthetic market as one :data:`~hftlab.events.EVENT_DTYPE` array in ``ts_local`` order.

    Ties keep the order of (instrument, channel), as :meth:`Store.events` does. Parameters are
    those of :func:`synthesize`.

    Returns
    -------
    events, instruments
        The merged events (``instrument`` indexes ``instruments``) and the instrument specs.
    """
    data = synthesize_tables(
        events=events, duration_s=duration_s, instruments=instruments, seed=seed,
        start_ns=start_ns,
    )
    pieces = []
    for i, inst in enumerate(data.instruments):
        for channel in _CHANNELS:
            table = data.tables.get((inst.symbol, channel))
            if table is not None:
                pieces.append(table_to_events(table, channel, inst, i))
    merged = np.concatenate(pieces) if pieces else np.zeros(0, dtype=EVENT_DTYPE)
    return merged[np.argsort(merged["ts_local"], kind="stable")], data.instruments


def _prepare_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(
                f"store folder {out} is not empty; pass --force (force=True) to replace its "
                f"synthetic data (venue={VENUE}/ and {LABELS_PATH})"
            )
        # Only our own previous output goes: other venues or files in the folder stay.
        shutil.rmtree(out / f"venue={VENUE}", ignore_errors=True)
        (out / LABELS_PATH).unlink(missing_ok=True)


def synthesize(
    out: str | Path,
    *,
    events: int | None = None,
    duration_s: float | None = None,
    instruments: Sequence[str] | None = None,
    seed: int = 7,
    start_ns: int = DEFAULT_START_NS,
    force: bool = False,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    progress: Callable[[float], None] | None = None,
) -> SynthSummary:
    """Generate the synthetic market into the Parquet store at ``out``.

    Parameters
    ----------
    out
        Store root. Must be missing or empty unless ``force``.
    events
        Total rows across all instruments and channels; generation stops at exactly this many
        (the last exchange message may be cut short). Default: the ``synth_events`` setting
        when ``duration_s`` is not given either.
    duration_s
        Simulated seconds of exchange time. With ``events`` too, whichever ends first.
    instruments
        Subset of ``BTCUSDT``, ``ETHUSDT``, ``ETHBTC`` (optionally ``synth/``-prefixed); all
        three by default. Mispricing labels exist only when all three are generated.
    seed
        Same seed and options give byte-identical files.
    start_ns
        Exchange time of the opening snapshot (ns since the epoch).
    force
        Replace a previous synthetic output in a non-empty ``out`` (removes only
        ``venue=synth/`` and ``labels/mispricings.parquet``).
    row_group_rows
        Parquet row-group size.
    progress
        Called with the fraction done after each chunk.

    Returns
    -------
    SynthSummary
        Rows per stream, time span, label count, timings and the files written.

    Raises
    ------
    ConfigError
        Bad options, or a non-empty ``out`` without ``force``.
    """
    out = Path(out)
    symbols = _resolve_symbols(instruments)
    budget, t_end = _check_options(events, duration_s, seed)
    _prepare_out(out, force)
    store = Store(out, create=True)
    writers: dict[tuple[str, Channel], ChannelWriter] = {}
    label_parts: list[np.ndarray] = []
    rows = 0
    gen_s = write_s = 0.0
    first_ts: int | None = None
    last_ts = int(start_ns)
    try:
        t0 = time.perf_counter()
        for chunk in _chunks(symbols, int(seed), budget, t_end, int(start_ns)):
            t1 = time.perf_counter()
            gen_s += t1 - t0
            for key, cols in chunk.columns.items():
                if key not in writers:
                    writers[key] = store.writer(
                        INSTRUMENTS[key[0]], key[1], row_group_rows=row_group_rows
                    )
                writers[key].write(cols)
                ts = cols["ts_exchange"]
                first_ts = int(ts[0]) if first_ts is None else min(first_ts, int(ts[0]))
                last_ts = max(last_ts, int(ts.max()))
            label_parts.append(chunk.labels)
            rows += chunk.rows
            t0 = time.perf_counter()
            write_s += t0 - t1
            if progress is not None:
                progress(chunk.progress)
        t1 = time.perf_counter()
        files = [p for w in writers.values() for p in w.close()]
        labels = None
        if len(symbols) == len(SYMBOLS):
            labels = _labels_table(label_parts)
            path = out / LABELS_PATH
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            pq.write_table(labels, tmp, compression="zstd")
            tmp.replace(path)
            files.append(path)
        write_s += time.perf_counter() - t1
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    summary = SynthSummary(
        root=out,
        instruments=[INSTRUMENTS[s] for s in symbols],
        rows=rows,
        rows_by_stream={f"{VENUE}/{k[0]}/{k[1].value}": w.rows_written for k, w in writers.items()},
        start_ns=first_ts if first_ts is not None else int(start_ns),
        end_ns=last_ts,
        mispricings=0 if labels is None else labels.num_rows,
        generate_s=gen_s,
        write_s=write_s,
        files=files,
    )
    log.info("synthesized %d rows into %s in %.2fs + %.2fs write", rows, out, gen_s, write_s)
    return summary
