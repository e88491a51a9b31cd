"""Compiled event loop of the synthetic market (see :mod:`hftlab.data.synthetic` for the model).

Everything here is numba ``@njit(cache=True)``. All state lives in numpy arrays owned by the
caller, so :func:`run` can stop at an event boundary when its output buffer is full and resume
later with bit-identical results: the output does not depend on the chunk size.

The random numbers come from our own xoshiro256** generator (state in a ``uint64[4]`` array), not
numba's global ``np.random``: the stream is then explicit, resumable and identical across numba
versions, which is what byte-identical files need.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ----------------------------------------------------------------------------- layout constants
#: Width of the per-instrument book window, in ticks; re-centred on the fair price when it drifts.
W = 2048
HALF = W // 2
QUARTER = W // 4
MAX_SWEEP = 16  # hard bound on levels one market order may walk (rows per event stay bounded)
STALE_CAP = 5.0  # staleness (ticks through fair) beyond which a quote is not pulled any faster

# Output row columns (int64 matrix, one row per emitted store row).
O_TSX, O_TSL, O_STREAM, O_KIND, O_SIDE, O_P1, O_Q1, O_P2, O_Q2, O_ID1, O_ID2, O_ID3 = range(12)
N_OUT = 12

# Channel offsets inside a stream id (stream = instrument * 3 + channel).
C_DEPTH, C_TRADE, C_BBO = 0, 1, 2

# Event kinds (values of hftlab.events.EventKind).
K_DEPTH, K_SNAPSHOT, K_CLEAR, K_TRADE, K_BBO = 1, 2, 3, 4, 5

# Per-instrument parameters (float64 matrix row).
(
    I_FAIR,  # 0 BTC/USDT latent, 1 ETH/USDT latent, 2 ETH/BTC = ratio (+ mispricing)
    I_TICK,  # tick size (price units)
    I_LAM_L,  # calm limit-order arrival rate (1/s)
    I_MU_M,  # calm baseline market-order rate (1/s)
    I_H_ALPHA,  # Hawkes jump of the market-order intensity per market order (1/s)
    I_H_BETA,  # Hawkes decay rate (1/s)
    I_GAMMA_L,  # coupling of limit arrivals to the Hawkes excitation (replenishment)
    I_NU,  # calm cancellation rate per resting average-sized order (1/s)
    I_NU_STALE,  # extra cancellation rate per order per tick a quote sits through fair (1/s)
    I_SBAR,  # mean limit-order size (lots)
    I_LIM_MU,  # log-median limit-order size (log lots)
    I_LIM_SIG,  # log-sd of limit-order sizes
    I_MKT_XM,  # Pareto scale of market-order sizes (lots)
    I_MKT_ALPHA,  # Pareto tail index of market-order sizes
    I_MKT_CAP,  # market-order size cap (lots)
    I_DEPTH_P,  # geometric parameter of the placement distance from the quote anchor
    I_DEPTH_MAX,  # largest placement distance (ticks)
    I_H_CALM,  # quote anchor offset from fair in the calm regime (ticks)
    I_H_VOL,  # same, volatile regime (wider spreads)
    I_KAPPA,  # logistic slope of P(buy) in (fair - mid) ticks
    I_SWEEP_MAX,  # levels a market order may walk (its protection band)
) = range(21)
N_IP = 21

# Global parameters (float64 vector).
(
    G_SIG_B,  # calm volatility of log BTC/USDT (per sqrt(second))
    G_SIG_E,  # calm volatility of log ETH/USDT
    G_RHO,  # correlation of their Brownian increments
    G_SIG_MULT,  # volatility multiplier in the volatile regime
    G_RATE_MULT,  # event-rate multiplier in the volatile regime
    G_SW_CV,  # calm -> volatile switching rate (1/s)
    G_SW_VC,  # volatile -> calm switching rate (1/s)
    G_MP_RATE,  # mispricing episode arrival rate (1/s), 0 disables
    G_MP_DUR_MED,  # episode duration: lognormal median (s)
    G_MP_DUR_SIG,
    G_MP_DUR_MIN,
    G_MP_DUR_MAX,
    G_MP_SIZE_MED,  # episode size: lognormal median (bps)
    G_MP_SIZE_SIG,
    G_MP_SIZE_MIN,
    G_MP_SIZE_MAX,
    G_P0B,  # BTC/USDT price at latent 0
    G_P0E,  # ETH/USDT price at latent 0
) = range(18)
N_GP = 18

# Global float state.
S_T, S_XB, S_XE, S_REGIME, S_MP_ON, S_MP_START, S_MP_END, S_MP_SIZE, S_MP_DIR = range(9)
N_GS = 9
# Global int state.
GI_ROWS, GI_SNAP, GI_DONE, GI_LAST_TS = range(4)
N_GI = 4

# Per-instrument int state. Book indices are window offsets: price tick = BASE + index.
(
    X_BASE,
    X_BB,
    X_BA,
    X_LO,  # lowest non-empty bid index
    X_HI,  # highest non-empty ask index
    X_UID,  # last depth update id
    X_TID,  # last trade id
    X_QB,  # total bid lots
    X_QA,  # total ask lots
    X_LBP,  # last BBO emitted: bid tick, bid lots, ask tick, ask lots
    X_LBQ,
    X_LAP,
    X_LAQ,
) = range(13)
N_IST = 13
# Per-instrument float state.
F_E = 0  # Hawkes excitation of the market-order intensity (1/s)
N_FST = 1

# Per-stream latency parameters (float64 rows) and state (int64 rows).
L_BASE, L_JIT, L_STALL_RATE, L_STALL_MED, L_STALL_SIG, L_STALL_MIN, L_STALL_MAX = range(7)
N_LP = 7
Z_LAST_LOCAL, Z_MSG_TS, Z_MSG_LOCAL, Z_STALL_END, Z_NEXT_STALL = range(5)
N_SS = 5

# Label columns (int64 matrix).
B_START, B_END, B_SIZE_MBP, B_DIR = range(4)  # size in milli-bps keeps the matrix integral
N_LAB = 4

# run() status
ST_MORE, ST_DONE = 0, 1


# ----------------------------------------------------------------------------- random numbers
@njit(cache=True, inline="always")
def _rotl(x: np.uint64, k: int) -> np.uint64:
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def _next_u64(s: np.ndarray) -> np.uint64:
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return result


@njit(cache=True)
def _uniform(s: np.ndarray) -> float:
    """Uniform in the open interval (0, 1): safe for log()."""
    return (np.float64(_next_u64(s) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _normal(s: np.ndarray) -> float:
    # Box-Muller, one variate per call: simpler to resume than a cached second variate.
    u1 = _uniform(s)
    u2 = _uniform(s)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True)
def _exponential(s: np.ndarray, mean: float) -> float:
    return -np.log(_uniform(s)) * mean


@njit(cache=True)
def _lognormal_clipped(s: np.ndarray, median: float, sig: float, lo: float, hi: float) -> float:
    x = median * np.exp(sig * _normal(s))
    return min(max(x, lo), hi)


# ----------------------------------------------------------------------------- latent prices
@njit(cache=True)
def _fair_ticks(ip: np.ndarray, gp: np.ndarray, gs: np.ndarray, i: int) -> float:
    kind = int(ip[i, I_FAIR])
    if kind == 0:
        price = gp[G_P0B] * np.exp(gs[S_XB])
    elif kind == 1:
        price = gp[G_P0E] * np.exp(gs[S_XE])
    else:
        price = gp[G_P0E] / gp[G_P0B] * np.exp(gs[S_XE] - gs[S_XB])
        if gs[S_MP_ON] > 0.5:
            price *= 1.0 + gs[S_MP_DIR] * gs[S_MP_SIZE] * 1e-4
    return price / ip[i, I_TICK]


@njit(cache=True)
def _advance_latent(gp: np.ndarray, gs: np.ndarray, rng: np.ndarray, dt: float) -> None:
    mult = gp[G_SIG_MULT] if gs[S_REGIME] > 0.5 else 1.0
    z1 = _normal(rng)
    z2 = _normal(rng)
    sq = np.sqrt(dt)
    rho = gp[G_RHO]
    gs[S_XB] += gp[G_SIG_B] * mult * sq * z1
    gs[S_XE] += gp[G_SIG_E] * mult * sq * (rho * z1 + np.sqrt(1.0 - rho * rho) * z2)


# ----------------------------------------------------------------------------- feed latency
@njit(cache=True)
def _arrival(lp: np.ndarray, ss: np.ndarray, rng: np.ndarray, s: int, ts: int) -> int:
    """ts_local of a message of stream ``s`` sent at ``ts``: base + jitter + stall, in order."""
    if ts == ss[s, Z_MSG_TS]:
        return ss[s, Z_MSG_LOCAL]  # rows of one message arrive together
    if ss[s, Z_NEXT_STALL] < 0:
        ss[s, Z_NEXT_STALL] = ts + np.int64(_exponential(rng, 1e9 / lp[s, L_STALL_RATE]))
    while ts >= ss[s, Z_NEXT_STALL]:
        # A stall (TCP head-of-line blocking, a GC pause, a congested link): everything sent
        # during it is delivered when it clears, then the backlog drains in order.
        dur = _lognormal_clipped(
            rng, lp[s, L_STALL_MED], lp[s, L_STALL_SIG], lp[s, L_STALL_MIN], lp[s, L_STALL_MAX]
        )
        ss[s, Z_STALL_END] = ss[s, Z_NEXT_STALL] + np.int64(dur)
        ss[s, Z_NEXT_STALL] = ss[s, Z_STALL_END] + np.int64(
            _exponential(rng, 1e9 / lp[s, L_STALL_RATE])
        )
    lat = np.int64(lp[s, L_BASE] + _exponential(rng, lp[s, L_JIT]))
    if ts < ss[s, Z_STALL_END]:
        lat += ss[s, Z_STALL_END] - ts
    local = max(ts + lat, ss[s, Z_LAST_LOCAL])  # TCP keeps a stream in order
    ss[s, Z_LAST_LOCAL] = local
    ss[s, Z_MSG_TS] = ts
    ss[s, Z_MSG_LOCAL] = local
    return local


@njit(cache=True)
def _emit(
    out: np.ndarray,
    n: int,
    lp: np.ndarray,
    ss: np.ndarray,
    rng: np.ndarray,
    ts: int,
    stream: int,
    kind: int,
    side: int,
    p1: int,
    q1: int,
    p2: int,
    q2: int,
    id1: int,
    id2: int,
    id3: int,
) -> int:
    out[n, O_TSX] = ts
    out[n, O_TSL] = _arrival(lp, ss, rng, stream, ts)
    out[n, O_STREAM] = stream
    out[n, O_KIND] = kind
    out[n, O_SIDE] = side
    out[n, O_P1] = p1
    out[n, O_Q1] = q1
    out[n, O_P2] = p2
    out[n, O_Q2] = q2
    out[n, O_ID1] = id1
    out[n, O_ID2] = id2
    out[n, O_ID3] = id3
    return n + 1


# ----------------------------------------------------------------------------- book helpers
@njit(cache=True)
def _set_level(book: np.ndarray, ist: np.ndarray, i: int, side: int, idx: int, newq: int) -> None:
    """Set a level's lots and keep best/extreme indices and side totals current.

    Callers never empty a side, so the scans below always find a level.
    """
    old = book[i, side, idx]
    book[i, side, idx] = newq
    if side == 0:
        ist[i, X_QB] += newq - old
        if newq > 0:
            if idx > ist[i, X_BB]:
                ist[i, X_BB] = idx
            if idx < ist[i, X_LO]:
                ist[i, X_LO] = idx
        else:
            if idx == ist[i, X_BB]:
                j = idx - 1
                while book[i, 0, j] == 0:
                    j -= 1
                ist[i, X_BB] = j
            if idx == ist[i, X_LO]:
                j = idx + 1
                while book[i, 0, j] == 0:
                    j += 1
                ist[i, X_LO] = j
    else:
        ist[i, X_QA] += newq - old
        if newq > 0:
            if idx < ist[i, X_BA]:
                ist[i, X_BA] = idx
            if idx > ist[i, X_HI]:
                ist[i, X_HI] = idx
        else:
            if idx == ist[i, X_BA]:
                j = idx + 1
                while book[i, 1, j] == 0:
                    j += 1
                ist[i, X_BA] = j
            if idx == ist[i, X_HI]:
                j = idx - 1
                while book[i, 1, j] == 0:
                    j -= 1
                ist[i, X_HI] = j


@njit(cache=True)
def _rescan(book: np.ndarray, ist: np.ndarray, i: int) -> None:
    bb = -1
    lo = W
    qb = 0
    ba = W
    hi = -1
    qa = 0
    for j in range(W):
        q = book[i, 0, j]
        if q > 0:
            qb += q
            if j > bb:
                bb = j
            if j < lo:
                lo = j
        q = book[i, 1, j]
        if q > 0:
            qa += q
            if j < ba:
                ba = j
            if j > hi:
                hi = j
    ist[i, X_BB] = bb
    ist[i, X_LO] = lo
    ist[i, X_QB] = qb
    ist[i, X_BA] = ba
    ist[i, X_HI] = hi
    ist[i, X_QA] = qa


@njit(cache=True)
def _stale_weight(book: np.ndarray, ist: np.ndarray, ip: np.ndarray, i: int, f: float) -> float:
    """Sum over quotes sitting through the fair price of (orders) x (ticks through, capped)."""
    base = ist[i, X_BASE]
    sbar = ip[i, I_SBAR]
    w = 0.0
    j = ist[i, X_BA]
    while j <= ist[i, X_HI] and base + j < f:
        w += book[i, 1, j] / sbar * min(f - (base + j), STALE_CAP)
        j += 1
    j = ist[i, X_BB]
    while j >= ist[i, X_LO] and base + j > f:
        w += book[i, 0, j] / sbar * min((base + j) - f, STALE_CAP)
        j -= 1
    return w


@njit(cache=True)
def _bbo(
    out: np.ndarray,
    n: int,
    lp: np.ndarray,
    ss: np.ndarray,
    rng: np.ndarray,
    book: np.ndarray,
    ist: np.ndarray,
    i: int,
    ts: int,
) -> int:
    """Emit a BBO row if best price or size changed (update id = the depth sequence)."""
    base = ist[i, X_BASE]
    bp = base + ist[i, X_BB]
    bq = book[i, 0, ist[i, X_BB]]
    ap = base + ist[i, X_BA]
    aq = book[i, 1, ist[i, X_BA]]
    if bp == ist[i, X_LBP] and bq == ist[i, X_LBQ] and ap == ist[i, X_LAP] and aq == ist[i, X_LAQ]:
        return n
    ist[i, X_LBP] = bp
    ist[i, X_LBQ] = bq
    ist[i, X_LAP] = ap
    ist[i, X_LAQ] = aq
    return _emit(out, n, lp, ss, rng, ts, i * 3 + C_BBO, K_BBO, 0, bp, bq, ap, aq,
                 ist[i, X_UID], 0, 0)


@njit(cache=True)
def _recentre(
    out: np.ndarray,
    n: int,
    emit: bool,
    lp: np.ndarray,
    ss: np.ndarray,
    rng: np.ndarray,
    book: np.ndarray,
    ist: np.ndarray,
    i: int,
    f: float,
    ts: int,
) -> int:
    """Move the window so the fair price sits in its middle; levels falling off are removed.

    Removal of those far levels is emitted as one depth message (quotes pulled far from the
    market), so the stored book always equals the simulated one.
    """
    base = ist[i, X_BASE]
    c = f - base
    if QUARTER <= c <= W - QUARTER:
        return n
    shift = np.int64(np.floor(f)) - HALF - base
    if ist[i, X_BB] - shift < 1 or ist[i, X_BA] - shift > W - 2:
        return n  # the touch would fall off the window: keep the book intact (never seen)
    n_drop = 0
    for side in range(2):
        for j in range(W):
            k = j - shift
            if book[i, side, j] > 0 and (k < 0 or k >= W):
                n_drop += 1
    if n_drop and emit:
        u0 = ist[i, X_UID]
        for side in range(2):
            for j in range(W):
                k = j - shift
                if book[i, side, j] > 0 and (k < 0 or k >= W):
                    n = _emit(out, n, lp, ss, rng, ts, i * 3 + C_DEPTH, K_DEPTH,
                              1 if side == 0 else -1, base + j, 0, 0, 0,
                              u0 + 1, u0 + n_drop, u0)
    ist[i, X_UID] += n_drop
    tmp = np.zeros((2, W), dtype=np.int64)
    for side in range(2):
        for j in range(W):
            k = j - shift
            if 0 <= k < W:
                tmp[side, k] = book[i, side, j]
    book[i, :, :] = tmp
    ist[i, X_BASE] = base + shift
    _rescan(book, ist, i)
    return n


@njit(cache=True)
def snapshot_rows(book: np.ndarray, ist: np.ndarray, i: int) -> int:
    """Rows a snapshot of instrument ``i`` takes: one CLEAR plus one per level."""
    m = 1
    for side in range(2):
        for j in range(W):
            if book[i, side, j] > 0:
                m += 1
    return m


@njit(cache=True)
def _snapshot(
    out: np.ndarray,
    n: int,
    lp: np.ndarray,
    ss: np.ndarray,
    rng: np.ndarray,
    book: np.ndarray,
    ist: np.ndarray,
    i: int,
    ts: int,
) -> int:
    uid = ist[i, X_UID]
    s = i * 3 + C_DEPTH
    base = ist[i, X_BASE]
    n = _emit(out, n, lp, ss, rng, ts, s, K_CLEAR, 0, 0, 0, 0, 0, uid, uid, -1)
    for j in range(ist[i, X_BB], ist[i, X_LO] - 1, -1):
        if book[i, 0, j] > 0:
            n = _emit(out, n, lp, ss, rng, ts, s, K_SNAPSHOT, 1, base + j, book[i, 0, j],
                      0, 0, uid, uid, -1)
    for j in range(ist[i, X_BA], ist[i, X_HI] + 1):
        if book[i, 1, j] > 0:
            n = _emit(out, n, lp, ss, rng, ts, s, K_SNAPSHOT, -1, base + j, book[i, 1, j],
                      0, 0, uid, uid, -1)
    return n


# ----------------------------------------------------------------------------- order flow
@njit(cache=True)
def _limit(
    out: np.ndarray, n: int, emit: bool, ip: np.ndarray, lp: np.ndarray, ss: np.ndarray,
    rng: np.ndarray, book: np.ndarray, ist: np.ndarray, i: int, f: float, h: float, ts: int,
) -> int:
    """A limit order: placed a geometric distance behind a quote anchor at fair -/+ h."""
    d = np.floor(np.log(_uniform(rng)) / np.log(ip[i, I_DEPTH_P]))
    d = min(d, ip[i, I_DEPTH_MAX])
    size = max(1, np.int64(np.rint(np.exp(ip[i, I_LIM_MU] + ip[i, I_LIM_SIG] * _normal(rng)))))
    base = ist[i, X_BASE]
    if _uniform(rng) < 0.5:
        side = 0
        # Never marketable: at worst it joins one tick below the best ask (improves the spread).
        px = min(np.int64(np.floor(f - h) - d), base + ist[i, X_BA] - 1)
    else:
        side = 1
        px = max(np.int64(np.ceil(f + h) + d), base + ist[i, X_BB] + 1)
    idx = px - base
    if idx < 0 or idx >= W:
        return n
    newq = book[i, side, idx] + size
    _set_level(book, ist, i, side, idx, newq)
    u = ist[i, X_UID] + 1
    ist[i, X_UID] = u
    if emit:
        n = _emit(out, n, lp, ss, rng, ts, i * 3 + C_DEPTH, K_DEPTH, 1 if side == 0 else -1,
                  px, newq, 0, 0, u, u, u - 1)
        n = _bbo(out, n, lp, ss, rng, book, ist, i, ts)
    return n


@njit(cache=True)
def _cancel(
    out: np.ndarray, n: int, emit: bool, ip: np.ndarray, lp: np.ndarray, ss: np.ndarray,
    rng: np.ndarray, book: np.ndarray, ist: np.ndarray, i: int, f: float, stale_first: bool,
    ts: int,
) -> int:
    """Cancel one order's worth at a level picked by size (or by staleness when pulling quotes)."""
    base = ist[i, X_BASE]
    side = -1
    idx = -1
    through = 0.0
    if stale_first:
        w = _stale_weight(book, ist, ip, i, f)
        if w > 0.0:
            target = _uniform(rng) * w
            sbar = ip[i, I_SBAR]
            acc = 0.0
            j = ist[i, X_BA]
            while j <= ist[i, X_HI] and base + j < f:
                through = min(f - (base + j), STALE_CAP)
                acc += book[i, 1, j] / sbar * through
                side = 1
                idx = j
                if acc >= target:
                    break
                j += 1
            if acc < target:
                j = ist[i, X_BB]
                while j >= ist[i, X_LO] and base + j > f:
                    through = min((base + j) - f, STALE_CAP)
                    acc += book[i, 0, j] / sbar * through
                    side = 0
                    idx = j
                    if acc >= target:
                        break
                    j -= 1
    if idx < 0:
        qb = ist[i, X_QB]
        qa = ist[i, X_QA]
        target = _uniform(rng) * (qb + qa)
        # Walk outward from the touch: most size sits near it, so the walk is short.
        if target < qb:
            side = 0
            acc = 0.0
            j = ist[i, X_BB]
            while j >= ist[i, X_LO]:
                acc += book[i, 0, j]
                if acc > target:
                    break
                j -= 1
            idx = max(j, ist[i, X_LO])
        else:
            side = 1
            target -= qb
            acc = 0.0
            j = ist[i, X_BA]
            while j <= ist[i, X_HI]:
                acc += book[i, 1, j]
                if acc > target:
                    break
                j += 1
            idx = min(j, ist[i, X_HI])
    q = book[i, side, idx]
    if q <= 0:
        return n
    amt = max(1, np.int64(np.rint(np.exp(ip[i, I_LIM_MU] + ip[i, I_LIM_SIG] * _normal(rng)))))
    # A quote deep through fair is pulled whole; one barely through loses a share of its size.
    amt = max(amt, np.int64(np.ceil(q * through / STALE_CAP)))
    newq = max(q - amt, 0)
    only = ist[i, X_BB] == ist[i, X_LO] if side == 0 else ist[i, X_BA] == ist[i, X_HI]
    if newq == 0 and only:
        newq = 1  # never empty a side: a venue's book always has both
        if newq == q:
            return n
    _set_level(book, ist, i, side, idx, newq)
    u = ist[i, X_UID] + 1
    ist[i, X_UID] = u
    if emit:
        n = _emit(out, n, lp, ss, rng, ts, i * 3 + C_DEPTH, K_DEPTH, 1 if side == 0 else -1,
                  base + idx, newq, 0, 0, u, u, u - 1)
        n = _bbo(out, n, lp, ss, rng, book, ist, i, ts)
    return n


@njit(cache=True)
def _market(
    out: np.ndarray, n: int, emit: bool, ip: np.ndarray, lp: np.ndarray, ss: np.ndarray,
    rng: np.ndarray, book: np.ndarray, ist: np.ndarray, fst: np.ndarray, i: int, f: float,
    ts: int, lev_idx: np.ndarray, lev_fill: np.ndarray,
) -> int:
    """A market order: side tilted toward the fair price, Pareto size, walks up to N levels."""
    base = ist[i, X_BASE]
    mid = base + 0.5 * (ist[i, X_BB] + ist[i, X_BA])
    p_buy = 1.0 / (1.0 + np.exp(-ip[i, I_KAPPA] * (f - mid)))
    buy = _uniform(rng) < p_buy
    size = ip[i, I_MKT_XM] * _uniform(rng) ** (-1.0 / ip[i, I_MKT_ALPHA])
    rem = max(1, np.int64(np.rint(min(size, ip[i, I_MKT_CAP]))))
    max_lev = min(int(ip[i, I_SWEEP_MAX]), MAX_SWEEP)
    side = 1 if buy else 0  # the book side it consumes
    k = 0
    j = ist[i, X_BA] if buy else ist[i, X_BB]
    last = ist[i, X_HI] if buy else ist[i, X_LO]
    while rem > 0 and k < max_lev:
        q = book[i, side, j]
        avail = q - 1 if j == last else q  # leave the deepest level standing
        if avail <= 0:
            break
        fill = min(rem, avail)
        lev_idx[k] = j
        lev_fill[k] = fill
        k += 1
        rem -= fill
        if j == last:
            break
        j = j + 1 if buy else j - 1
        while book[i, side, j] == 0:
            j = j + 1 if buy else j - 1
    if k == 0:
        return n
    fst[i, F_E] += ip[i, I_H_ALPHA]  # self-excitation: trades beget trades
    u0 = ist[i, X_UID]
    ist[i, X_UID] = u0 + k
    aggr = 1 if buy else -1
    for m in range(k):
        idx = lev_idx[m]
        newq = book[i, side, idx] - lev_fill[m]
        _set_level(book, ist, i, side, idx, newq)
        if emit:
            ist[i, X_TID] += 1
            n = _emit(out, n, lp, ss, rng, ts, i * 3 + C_TRADE, K_TRADE, aggr, base + idx,
                      lev_fill[m], 0, 0, ist[i, X_TID], 0, 0)
            n = _emit(out, n, lp, ss, rng, ts, i * 3 + C_DEPTH, K_DEPTH, -aggr, base + idx,
                      newq, 0, 0, u0 + 1, u0 + k, u0)
        else:
            ist[i, X_TID] += 1
    if emit:
        n = _bbo(out, n, lp, ss, rng, book, ist, i, ts)
    return n


# ----------------------------------------------------------------------------- the loop
@njit(cache=True)
def run(
    ip: np.ndarray,
    gp: np.ndarray,
    lp: np.ndarray,
    book: np.ndarray,
    ist: np.ndarray,
    fst: np.ndarray,
    gs: np.ndarray,
    gi: np.ndarray,
    ss: np.ndarray,
    rng: np.ndarray,
    out: np.ndarray,
    labels: np.ndarray,
    start_ns: int,
    t_end: float,
    row_budget: int,
    chunk_rows: int,
    emit: bool,
) -> tuple[int, int, int]:
    """Advance the market until ``t_end`` (s), ``row_budget`` rows in total, or a full chunk.

    Returns ``(rows in out, labels written, status)``; status ``ST_DONE`` when the run is over,
    ``ST_MORE`` when the caller should drain ``out`` and call again. With ``emit`` False (warm-up)
    nothing is written and no mispricing starts.
    """
    n_inst = ip.shape[0]
    n = 0
    nlab = 0
    lev_idx = np.empty(MAX_SWEEP, dtype=np.int64)
    lev_fill = np.empty(MAX_SWEEP, dtype=np.int64)
    rates = np.zeros((n_inst, 3))
    stale_part = np.zeros(n_inst)
    if gi[GI_DONE]:
        return 0, 0, ST_DONE
    if emit and gi[GI_SNAP]:
        ts = start_ns + np.int64(np.floor(gs[S_T] * 1e9 + 0.5))
        for i in range(n_inst):
            n = _snapshot(out, n, lp, ss, rng, book, ist, i, ts)
            n = _bbo(out, n, lp, ss, rng, book, ist, i, ts)
        gi[GI_SNAP] = 0
        gi[GI_LAST_TS] = ts
        if n >= row_budget:
            n = row_budget
            gi[GI_ROWS] = n
            gi[GI_DONE] = 1
            return n, 0, ST_DONE
        gi[GI_ROWS] = n
    triangle = gp[G_MP_RATE] > 0.0
    while True:
        if n >= chunk_rows or nlab >= labels.shape[0] - 1:
            return n, nlab, ST_MORE
        t = gs[S_T]
        volatile = gs[S_REGIME] > 0.5
        rm = gp[G_RATE_MULT] if volatile else 1.0
        total = 0.0
        for i in range(n_inst):
            f = _fair_ticks(ip, gp, gs, i)
            e = fst[i, F_E]
            rates[i, 0] = ip[i, I_LAM_L] * rm + ip[i, I_GAMMA_L] * e
            rates[i, 1] = ip[i, I_MU_M] * rm + e
            base_c = ip[i, I_NU] * rm * (ist[i, X_QB] + ist[i, X_QA]) / ip[i, I_SBAR]
            st = ip[i, I_NU_STALE] * _stale_weight(book, ist, ip, i, f)
            rates[i, 2] = base_c + st
            stale_part[i] = st
            total += rates[i, 0] + rates[i, 1] + rates[i, 2]
        r_sw = gp[G_SW_VC] if volatile else gp[G_SW_CV]
        r_mp = gp[G_MP_RATE] if (triangle and emit and gs[S_MP_ON] < 0.5) else 0.0
        total += r_sw + r_mp
        dt = _exponential(rng, 1.0 / total)
        t_new = t + dt
        # Scheduled transitions come first; exponential waiting times are memoryless, so
        # discarding the drawn candidate after one is exact.
        if gs[S_MP_ON] > 0.5 and t_new >= gs[S_MP_END]:
            _advance_latent(gp, gs, rng, gs[S_MP_END] - t)
            gs[S_T] = gs[S_MP_END]
            for i in range(n_inst):
                fst[i, F_E] *= np.exp(-ip[i, I_H_BETA] * (gs[S_MP_END] - t))
            gs[S_MP_ON] = 0.0
            labels[nlab, B_START] = start_ns + np.int64(np.floor(gs[S_MP_START] * 1e9 + 0.5))
            labels[nlab, B_END] = start_ns + np.int64(np.floor(gs[S_MP_END] * 1e9 + 0.5))
            labels[nlab, B_SIZE_MBP] = np.int64(np.rint(gs[S_MP_SIZE] * 1000.0))
            labels[nlab, B_DIR] = np.int64(gs[S_MP_DIR])
            nlab += 1
            continue
        if t_new >= t_end:
            gs[S_T] = t_end
            if emit:
                gi[GI_DONE] = 1
                nlab = _close_episode(gs, gi, labels, nlab, start_ns)
                return n, nlab, ST_DONE
            return n, nlab, ST_DONE
        _advance_latent(gp, gs, rng, dt)
        for i in range(n_inst):
            fst[i, F_E] *= np.exp(-ip[i, I_H_BETA] * dt)
        gs[S_T] = t_new
        ts = start_ns + np.int64(np.floor(t_new * 1e9 + 0.5))
        if emit and ts <= gi[GI_LAST_TS]:
            ts = gi[GI_LAST_TS] + 1  # one exchange event per ns: a timestamp names one message
        # Pick the event in proportion to the rates in force since the previous event.
        x = _uniform(rng) * total
        if x < r_sw:
            gs[S_REGIME] = 0.0 if volatile else 1.0
            continue
        x -= r_sw
        if x < r_mp:
            gs[S_MP_ON] = 1.0
            gs[S_MP_START] = t_new
            dur = _lognormal_clipped(rng, gp[G_MP_DUR_MED], gp[G_MP_DUR_SIG],
                                     gp[G_MP_DUR_MIN], gp[G_MP_DUR_MAX])
            gs[S_MP_END] = t_new + dur
            gs[S_MP_SIZE] = _lognormal_clipped(rng, gp[G_MP_SIZE_MED], gp[G_MP_SIZE_SIG],
                                               gp[G_MP_SIZE_MIN], gp[G_MP_SIZE_MAX])
            gs[S_MP_DIR] = 1.0 if _uniform(rng) < 0.5 else -1.0
            continue
        x -= r_mp
        inst = n_inst - 1
        kind = 2
        for i in range(n_inst):
            if x < rates[i, 0]:
                inst, kind = i, 0
                break
            x -= rates[i, 0]
            if x < rates[i, 1]:
                inst, kind = i, 1
                break
            x -= rates[i, 1]
            if x < rates[i, 2]:
                inst, kind = i, 2
                break
            x -= rates[i, 2]
        i = inst
        f = _fair_ticks(ip, gp, gs, i)
        n0 = n
        n = _recentre(out, n, emit, lp, ss, rng, book, ist, i, f, ts)
        h = ip[i, I_H_VOL] if volatile else ip[i, I_H_CALM]
        if kind == 0:
            n = _limit(out, n, emit, ip, lp, ss, rng, book, ist, i, f, h, ts)
        elif kind == 1:
            n = _market(out, n, emit, ip, lp, ss, rng, book, ist, fst, i, f, ts,
                        lev_idx, lev_fill)
        else:
            stale = _uniform(rng) * rates[i, 2] < stale_part[i]
            n = _cancel(out, n, emit, ip, lp, ss, rng, book, ist, i, f, stale, ts)
        if emit and n > n0:
            gi[GI_LAST_TS] = ts
            if gi[GI_ROWS] + (n - n0) >= row_budget:
                # Exact row count: cut inside the last event if need be (its rows are in an
                # order that leaves a consistent book at every prefix).
                n = n0 + (row_budget - gi[GI_ROWS])
                gi[GI_ROWS] = row_budget
                gi[GI_DONE] = 1
                nlab = _close_episode(gs, gi, labels, nlab, start_ns)
                return n, nlab, ST_DONE
            gi[GI_ROWS] += n - n0


@njit(cache=True)
def _close_episode(
    gs: np.ndarray, gi: np.ndarray, labels: np.ndarray, nlab: int, start_ns: int
) -> int:
    """Label an episode still running when generation stops, ending at the last event."""
    if gs[S_MP_ON] < 0.5:
        return nlab
    gs[S_MP_ON] = 0.0
    labels[nlab, B_START] = start_ns + np.int64(np.floor(gs[S_MP_START] * 1e9 + 0.5))
    labels[nlab, B_END] = max(gi[GI_LAST_TS], labels[nlab, B_START])
    labels[nlab, B_SIZE_MBP] = np.int64(np.rint(gs[S_MP_SIZE] * 1000.0))
    labels[nlab, B_DIR] = np.int64(gs[S_MP_DIR])
    return nlab + 1
