"""Shared machinery of the model-based market makers (Avellaneda–Stoikov, GLFT).

One wake-up (a timer every ``interval_ms``)::

    book (ticks) ──► fair value s ──┐
    mid ──► EwmaVolatility ──► σ ────┼──► model depths (δ_b, δ_a) ──► round, clamp, levels ──►
    trades/quotes ──► IntensityEst ─► A, k                                  QuoteManager

Units (all prices inside the models are in **ticks** of the instrument):

* ``s`` fair value, ticks; ``δ`` distances from ``s``, ticks.
* ``q`` inventory in units of the quote size: ``q = (position − inventory_target) / size``
  (each full fill moves ``q`` by one, the convention of both papers).
* ``σ`` volatility of the price in ticks per √second: the EWMA volatility of log returns of the
  mid (:class:`~hftlab.signals.EwmaVolatility`, per √s) times the mid in ticks; or fixed by
  ``sigma_ticks``.
* ``γ`` risk aversion per tick per unit of ``q``; ``k`` fill-intensity decay per tick;
  ``A`` fills per second at distance 0 (``λ(δ) = A e^(−kδ)``).

To convert a price-unit parameter: ``γ_tick = γ_price · tick``, ``k_tick = k_price · tick``,
``σ_tick = σ_price / tick``.

Subclasses implement :meth:`MarketMaker._depths`. The online intensity calibration needs the
strategy to see every quote change and trade of its instrument, so with ``intensity =
"online"`` it subscribes to those in ``on_start``; with fixed ``A, k`` it subscribes to nothing
but its timer, and never leaves compiled code between timer wake-ups.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import msgspec

from hftlab.errors import ConfigError, DataError
from hftlab.signals import EwmaVolatility, IntensityEstimator, MicropriceModel
from hftlab.strategy import Strategy, Trade
from hftlab.strategy.quote_manager import QuoteManager, check_quote_params
from hftlab.units import NS_PER_S as NS

if TYPE_CHECKING:
    from hftlab.strategy.context import Context

log = logging.getLogger("hftlab.strategies")

_EPS: Final = 1e-9


class MarketMakerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Parameters shared by :class:`AvellanedaStoikov` and :class:`Glft` (see docs/strategies.md).

    Every price-like parameter is in ticks of the instrument; sizes are in instrument units
    (base currency or contracts).
    """

    instrument: int = 0
    #: Re-quote every this many ms of simulated local time.
    interval_ms: float = 100.0
    # -- fair value -------------------------------------------------------------------------
    #: ``mid``; ``weighted_mid`` (the imbalance-weighted micro-price of the touch);
    #: ``microprice`` (a Stoikov model fitted offline, from ``microprice_model``).
    fair_value: Literal["mid", "weighted_mid", "microprice"] = "mid"
    #: Path of a ``MicropriceModel`` JSON file (``model.save(path)``); needed for ``microprice``.
    microprice_model: str | None = None
    #: ``g``: the micro-price ``mid + g*``; ``g1``: the expected mid after the next move.
    microprice_table: Literal["g", "g1"] = "g1"
    # -- model ------------------------------------------------------------------------------
    #: Risk aversion γ, per tick per unit of q.
    gamma: float = 0.05
    # -- volatility -------------------------------------------------------------------------
    #: Fixed σ in ticks per √s; None estimates it (EWMA of the mid's log returns).
    sigma_ticks: float | None = None
    #: Half-life of the volatility EWMA, seconds.
    vol_half_life_s: float = 60.0
    #: Sample the mid every this many ms for the returns (previous-tick); None: every wake-up.
    vol_sample_ms: float | None = 1000.0
    # -- fill intensity λ(δ) = A e^(−kδ) ---------------------------------------------------
    #: ``fixed``: use ``a`` and ``k``; ``online``: refit on a rolling window of trades
    #: (``a``/``k`` serve until the first fit).
    intensity: Literal["fixed", "online"] = "fixed"
    #: A, fills per second at δ = 0.
    a: float = 30.0
    #: k, per tick.
    k: float = 1.5
    intensity_window_s: float = 300.0
    intensity_refit_s: float = 10.0
    #: Grid depths reached by fewer trades are left out of the fit.
    intensity_min_count: int = 10
    #: Deepest grid point of the fit, ticks (grid: 0, 0.5, ..., this).
    intensity_max_depth_ticks: float = 20.0
    # -- inventory and quoting ------------------------------------------------------------
    #: Order size per level, instrument units.
    size: float = 0.001
    #: Inventory the strategy steers to, instrument units (q = (position − target)/size).
    inventory_target: float = 0.0
    #: A side stops quoting a level that, filled, would take |position| beyond this.
    max_position: float = 0.01
    #: Levels per side and their spacing (ticks).
    levels: int = 1
    level_spacing_ticks: int = 1
    #: Quotes are widened (around their centre) to at least this many ticks apart.
    min_spread_ticks: int = 1
    #: And narrowed to at most this many ticks apart; 0 = no cap.
    max_spread_ticks: int = 0
    # -- quote manager (hftlab.strategy.quote_manager) -------------------------------------
    tolerance_ticks: int = 0
    max_order_age_ms: float = 0.0
    partial_fill: Literal["leave", "resize"] = "leave"
    replace: Literal["modify", "cancel_new"] = "modify"
    reject_backoff_ticks: int = 1
    max_backoff_ticks: int = 5

    def __post_init__(self) -> None:
        _positive(self, "interval_ms", "the re-quote interval, ms")
        _positive(self, "gamma", "risk aversion, per tick per unit of q")
        _positive(self, "a", "fills per second at the touch")
        _positive(self, "k", "intensity decay per tick")
        _positive(self, "vol_half_life_s", "half-life of the volatility EWMA, s")
        _positive(self, "intensity_window_s", "rolling window of the intensity fit, s")
        _positive(self, "intensity_refit_s", "time between intensity refits, s")
        _positive(self, "intensity_max_depth_ticks", "deepest grid point of the fit, ticks")
        _positive(self, "size", "order size, instrument units")
        _positive(self, "max_position", "position cap, instrument units")
        if self.sigma_ticks is not None and not self.sigma_ticks >= 0:
            raise ConfigError(
                f"[strategy] sigma_ticks = {self.sigma_ticks}: must be >= 0 ticks per √s "
                "(or leave it out to estimate σ)"
            )
        if self.vol_sample_ms is not None and not self.vol_sample_ms > 0:
            raise ConfigError(
                f"[strategy] vol_sample_ms = {self.vol_sample_ms}: must be > 0 ms (or leave it "
                "out to sample at every wake-up)"
            )
        if self.intensity_min_count < 1:
            raise ConfigError(
                f"[strategy] intensity_min_count = {self.intensity_min_count}: must be >= 1"
            )
        if abs(self.inventory_target) >= self.max_position:
            raise ConfigError(
                f"[strategy] inventory_target = {self.inventory_target}: must lie strictly "
                f"inside ±max_position ({self.max_position})"
            )
        if self.level_spacing_ticks < 1:
            raise ConfigError(
                f"[strategy] level_spacing_ticks = {self.level_spacing_ticks}: must be >= 1"
            )
        if self.min_spread_ticks < 1:
            raise ConfigError(
                f"[strategy] min_spread_ticks = {self.min_spread_ticks}: must be >= 1 (a bid "
                "and an ask at one price would trade with each other)"
            )
        if self.max_spread_ticks and self.max_spread_ticks < self.min_spread_ticks:
            raise ConfigError(
                f"[strategy] max_spread_ticks = {self.max_spread_ticks}: must be 0 (no cap) or "
                f">= min_spread_ticks ({self.min_spread_ticks})"
            )
        if self.fair_value == "microprice" and not self.microprice_model:
            raise ConfigError(
                "[strategy] fair_value = 'microprice' needs microprice_model = PATH (a "
                "MicropriceModel JSON saved with model.save(path))"
            )
        try:
            check_quote_params(
                levels=self.levels,
                tolerance_ticks=self.tolerance_ticks,
                max_order_age_ms=self.max_order_age_ms,
                partial_fill=self.partial_fill,
                replace=self.replace,
                tif="post_only",
                reject_backoff_ticks=self.reject_backoff_ticks,
                max_backoff_ticks=self.max_backoff_ticks,
            )
        except ConfigError as exc:
            raise ConfigError(f"[strategy] {exc}") from None


def _positive(cfg: Any, name: str, what: str) -> None:
    value = getattr(cfg, name)
    if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
        raise ConfigError(f"[strategy] {name} = {value!r}: must be a positive number ({what})")


class MarketMaker(Strategy):
    """Base of the model-based market makers: signals, rounding, levels, quote manager.

    Subclasses define ``Config`` (deriving from :class:`MarketMakerConfig`) and
    :meth:`_depths`. After each wake-up the last inputs and quotes are in ``last_fair``,
    ``last_sigma``, ``last_q``, ``last_bid_ticks``, ``last_ask_ticks`` (ticks; NaN/None before
    the first quote).
    """

    Config: ClassVar[type[Any]] = MarketMakerConfig
    config: MarketMakerConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self._model: MicropriceModel | None = None
        if c.fair_value == "microprice":
            assert c.microprice_model is not None
            path = Path(c.microprice_model)
            if not path.is_file():
                raise ConfigError(
                    f"[strategy] microprice_model = {c.microprice_model!r}: file not found "
                    "(fit one with hftlab.signals.fit_microprice and save it with model.save)"
                )
            try:
                self._model = MicropriceModel.load(path)
            except DataError as exc:
                raise ConfigError(f"[strategy] microprice_model: {exc}") from None
        self.last_fair = math.nan
        self.last_sigma = math.nan
        self.last_q = math.nan
        self.last_bid_ticks: int | None = None
        self.last_ask_ticks: int | None = None
        self.wakeups = 0
        self.refits = 0

    # ------------------------------------------------------------------ lifecycle
    def on_start(self, ctx: Context) -> None:
        c = self.config
        i = c.instrument
        if not 0 <= i < len(ctx.instruments):
            raise ConfigError(
                f"[strategy] instrument = {i}: the run has {len(ctx.instruments)} instrument(s) "
                f"({', '.join(x.key for x in ctx.instruments)}); use an index below that"
            )
        inst = ctx.instruments[i]
        self._inst = i
        self._book = ctx.book(i)
        lot_n, lot_d = inst.lot_ratio
        self._size_lots = ctx.to_lots(c.size, i)
        if self._size_lots < 1:
            raise ConfigError(
                f"[strategy] size = {c.size}: below one lot ({inst.lot_size}) of {inst.key}"
            )
        self._max_lots = math.floor(c.max_position * lot_d / lot_n + _EPS)
        self._target_lots = c.inventory_target * lot_d / lot_n
        if self._model is not None:
            tick = self._model.tick_size
            if abs(tick - inst.tick_size) > 1e-9 * inst.tick_size:
                raise ConfigError(
                    f"[strategy] microprice_model {c.microprice_model}: fitted with tick_size "
                    f"{tick:g}, but {inst.key} has tick {inst.tick_size:g}; refit it on prices "
                    "of this instrument"
                )
            self._model = self._model.with_tick_size(1.0)  # the strategy works in ticks
        self._fair_kind = {"mid": 0, "weighted_mid": 1, "microprice": 2}[c.fair_value]
        self._use_g1 = c.microprice_table == "g1"
        self._sigma_fixed = c.sigma_ticks
        self._vol = (
            None
            if c.sigma_ticks is not None
            else EwmaVolatility(
                int(c.vol_half_life_s * NS),
                None if c.vol_sample_ms is None else int(c.vol_sample_ms * 1_000_000),
            )
        )
        self._a = float(c.a)
        self._k = float(c.k)
        self.last_fit = None
        if c.intensity == "online":
            n = int(c.intensity_max_depth_ticks / 0.5 + _EPS)
            self._est = IntensityEstimator(
                int(c.intensity_window_s * NS),
                depths=[0.5 * j for j in range(n + 1)],
                tick_size=1.0,
                min_count=c.intensity_min_count,
            )
            self._refit_ns = int(c.intensity_refit_s * NS)
            self._next_fit = ctx.now + self._refit_ns
        self._intensity_changed()
        self.quotes = QuoteManager(
            i,
            levels=c.levels,
            tolerance_ticks=c.tolerance_ticks,
            max_order_age_ms=c.max_order_age_ms,
            partial_fill=c.partial_fill,
            replace=c.replace,
            reject_backoff_ticks=c.reject_backoff_ticks,
            max_backoff_ticks=c.max_backoff_ticks,
        )
        self._online = c.intensity == "online"
        self._min_spread = c.min_spread_ticks
        self._max_spread = c.max_spread_ticks
        self._spacing = c.level_spacing_ticks
        self._levels = c.levels
        self._bid_p = [0] * c.levels
        self._ask_p = [0] * c.levels
        self._sizes = [self._size_lots] * c.levels
        # Explicit subscriptions: the trades and quote changes of our instrument feed the online
        # intensity fit; otherwise nothing but the timer wakes us.
        ctx.declare_subscriptions()
        if self._online:
            ctx.subscribe_quotes(i)
            ctx.subscribe_trades(i)
        ctx.every(int(c.interval_ms * 1_000_000))

    def on_timer(self, ctx: Context) -> None:
        self.requote(ctx)

    def on_quote(self, ctx: Context, instrument: int) -> None:
        """Online intensity: the mid before each trade (subscribed for ``instrument`` only)."""
        book = self._book
        (b, bq), (a, aq) = book.best_bid_ticks, book.best_ask_ticks
        if bq and aq:
            self._est.on_quote(ctx.now, b, a)

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        """Online intensity: each market trade's depth from the mid before it."""
        self._est.on_trade(ctx.now, ctx.to_ticks(trade.price, self._inst), trade.qty, trade.side)

    def on_stop(self, ctx: Context) -> None:
        self.quotes.cancel_all(ctx)
        log.info("%s stopped: %s", type(self).__name__, self.stats())

    # ------------------------------------------------------------------ the wake-up
    def requote(self, ctx: Context) -> None:
        """Recompute the quotes from the current book and signals and hand them on."""
        self.wakeups += 1
        (bt, bq), (at, aq) = self._book.best_bid_ticks, self._book.best_ask_ticks
        if not bq or not aq or at <= bt:
            return  # no two-sided book: keep what is working
        now = ctx.now
        mid = 0.5 * (bt + at)
        vol = self._vol
        # log-return σ (per √s) times the mid: ticks per √s
        sigma = self._sigma_fixed if vol is None else vol.update(now, mid) * mid
        if not sigma >= 0.0:
            return  # σ not known yet (fewer than two samples)
        if self._online and now >= self._next_fit:
            self._refit(now)
        kind = self._fair_kind
        if kind == 0:
            fair = mid
        elif kind == 1:
            fair = (bt * aq + at * bq) / (bq + aq)
        else:
            model = self._model
            assert model is not None
            if self._use_g1:
                fair = model.next_mid(bt, at, bq, aq)
            else:
                fair = model.micro_price(bt, at, bq, aq)
        pos = ctx.position_lots(self._inst)
        q = (pos - self._target_lots) / self._size_lots
        d_bid, d_ask = self._depths(now, q, sigma)
        self.last_fair, self.last_sigma, self.last_q = fair, sigma, q
        self._place(ctx, now, fair - d_bid, fair + d_ask, bt, at, pos)

    def _place(
        self, ctx: Context, now: int, bid: float, ask: float, bt: int, at: int, pos: int
    ) -> None:
        """Round to ticks, apply the spread bounds, the touch and the position cap; quote."""
        b = math.floor(bid + _EPS)
        a = math.ceil(ask - _EPS)
        width = a - b
        lo, hi = self._min_spread, self._max_spread
        if width < lo:
            extra = lo - width
            b -= (extra + 1) // 2
            a += extra // 2
        elif hi and width > hi:
            b = math.floor(0.5 * (bid + ask) - 0.5 * hi + _EPS)
            a = b + hi
        if b >= at:  # never quote through the touch: post-only would be rejected
            b = at - 1
        if a <= bt:
            a = bt + 1
        self.last_bid_ticks, self.last_ask_ticks = b, a
        size, cap, step = self._size_lots, self._max_lots, self._spacing
        bids, asks = self._bid_p, self._ask_p
        nb = na = 0
        for j in range(self._levels):
            if pos + (j + 1) * size <= cap:
                bids[nb] = b - j * step
                nb += 1
            if pos - (j + 1) * size >= -cap:
                asks[na] = a + j * step
                na += 1
        qm = self.quotes
        qm.set_side(ctx, 1, bids, self._sizes, nb, now)
        qm.set_side(ctx, -1, asks, self._sizes, na, now)

    # ------------------------------------------------------------------ model hooks
    def _depths(self, now: int, q: float, sigma: float) -> tuple[float, float]:
        """Distances ``(δ_bid, δ_ask)`` in ticks of the quotes below/above the fair value."""
        raise NotImplementedError

    def _intensity_changed(self) -> None:
        """``self._a`` / ``self._k`` changed: recompute cached coefficients."""

    def _refit(self, now: int) -> None:
        self._next_fit = now + self._refit_ns
        fit = self._est.fit(now)
        if fit is None or not (fit.k > 0 and fit.a > 0 and math.isfinite(fit.k + fit.a)):
            return
        self._a, self._k = float(fit.a), float(fit.k)
        self.last_fit = fit
        self.refits += 1
        self._intensity_changed()
        log.debug(
            "intensity refit at %d: A=%.4g/s k=%.4g/tick (R²=%.3f)", now, fit.a, fit.k, fit.r2
        )

    # ------------------------------------------------------------------ report
    def stats(self) -> dict[str, Any]:
        """Counters and last signal values (for reports): quote-manager counters, σ, A, k."""
        out: dict[str, Any] = {
            "wakeups": self.wakeups,
            "sigma_ticks": self.last_sigma if self.last_sigma == self.last_sigma else None,
            "a": getattr(self, "_a", self.config.a),
            "k": getattr(self, "_k", self.config.k),
            "intensity_refits": self.refits,
        }
        qm = getattr(self, "quotes", None)
        if qm is not None:
            out.update(qm.stats.as_dict())
        return out
