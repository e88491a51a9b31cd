from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftlab.errors import InstrumentError
from hftlab.events import EVENT_DTYPE, ContractType, Instrument

STEPS = ["0.01", "0.1", "0.5", "5", "0.00001", "0.001", "0.25", "1", "0.00000001", "0.05"]


@given(
    step=st.sampled_from(STEPS),
    ticks=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=50),
)
def test_tick_conversion_is_exact(step: str, ticks: list[int]) -> None:
    inst = Instrument(venue="v", symbol="S", tick_size=float(step), lot_size=float(step))
    arr = np.array(ticks, dtype=np.int64)
    prices = inst.ticks_to_price(arr)
    # The float is exactly the double nearest to the decimal value (what parsing the string gives).
    expected = np.array([float(Decimal(t) * Decimal(step)) for t in ticks])
    assert np.array_equal(prices, expected)
    assert np.array_equal(inst.price_to_ticks(prices), arr)
    assert np.array_equal(inst.qty_to_lots(inst.lots_to_qty(arr)), arr)


@given(st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False))
def test_parsed_decimal_strings_land_on_ticks(value: Decimal) -> None:
    inst = Instrument(venue="v", symbol="S", tick_size=0.01, lot_size=0.001)
    ticks = inst.price_to_ticks(float(str(value)))
    assert int(ticks) == int(value * 100)
    assert inst.ticks_to_price(ticks) == float(str(value))


def test_off_grid_price_is_an_error_naming_the_value() -> None:
    inst = Instrument(venue="v", symbol="S", tick_size=0.01, lot_size=0.001)
    with pytest.raises(InstrumentError, match=r"61737\.635.*not a multiple of 0\.01"):
        inst.price_to_ticks(np.array([61737.63, 61737.635]))


@pytest.mark.parametrize("bad", [0.0, -0.01, float("nan"), float("inf")])
def test_invalid_steps_are_rejected(bad: float) -> None:
    with pytest.raises(InstrumentError):
        Instrument(venue="v", symbol="S", tick_size=bad, lot_size=0.1)


def test_instrument_json_roundtrip() -> None:
    inst = Instrument(
        venue="binance-futures",
        symbol="BTCUSD_PERP",
        tick_size=0.1,
        lot_size=1,
        contract_type=ContractType.INVERSE,
        contract_size=100,
        base="BTC",
        quote="USD",
    )
    assert Instrument.from_json(inst.to_json()) == inst
    with pytest.raises(InstrumentError):
        Instrument.from_json(b'{"venue": "x"}')


def test_event_dtype_is_packed_for_the_sim_core() -> None:
    assert EVENT_DTYPE.itemsize == 56
    assert EVENT_DTYPE["ts_local"] == np.int64 and EVENT_DTYPE["price"] == np.int64


# ---------------------------------------------------------------------------- contract arithmetic
def _contract(kind: ContractType, size: float) -> Instrument:
    return Instrument(
        venue="v", symbol="S", tick_size=0.1, lot_size=1.0, contract_type=kind, contract_size=size
    )


@pytest.mark.parametrize(
    ("kind", "size"),
    [(ContractType.SPOT, 1.0), (ContractType.LINEAR, 0.01), (ContractType.INVERSE, 100.0)],
)
def test_contract_arithmetic_formulas(kind: ContractType, size: float) -> None:
    inst = _contract(kind, size)
    q, p = 3.0, 25_000.0
    if kind == ContractType.INVERSE:
        assert inst.position_value(q, p) == -(q * size) / p
        assert inst.position_value(-q, p) == (q * size) / p
        assert inst.notional(-q, p) == inst.notional(q, p) == (q * size) / p
        assert inst.cash_delta(1, q, p, 0.5) == (q * size) / p - 0.5  # a buy receives coin
        assert inst.cash_delta(-1, q, p) == -(q * size) / p
    else:
        assert inst.position_value(q, p) == (q * size) * p
        assert inst.position_value(-q, p) == -(q * size) * p
        assert inst.notional(-q, p) == inst.notional(q, p) == (q * size) * p
        assert inst.cash_delta(1, q, p, 0.5) == -((q * size) * p + 0.5)  # a buy pays
        assert inst.cash_delta(-1, q, p) == (q * size) * p
    assert inst.equity(7.0, q, p) == 7.0 + inst.position_value(q, p)
    assert np.isnan(inst.position_value(q, float("nan")))


@pytest.mark.parametrize("kind", list(ContractType))
def test_contract_round_trip_pnl(kind: ContractType) -> None:
    """Buy, then sell at a higher price: cash is the round trip's PnL, and equity marked at
    the exit while holding equals the cash after closing."""
    inst = _contract(kind, 10.0)
    q, entry, exit_ = 2.0, 100.0, 125.0
    cash = inst.cash_delta(1, q, entry) + inst.cash_delta(-1, q, exit_)
    if kind == ContractType.INVERSE:
        expected = q * 10.0 * (1 / entry - 1 / exit_)
    else:
        expected = q * 10.0 * (exit_ - entry)
    assert cash == pytest.approx(expected, rel=1e-12) and cash > 0
    assert inst.equity(inst.cash_delta(1, q, entry), q, exit_) == pytest.approx(cash, rel=1e-12)


@pytest.mark.parametrize("kind", list(ContractType))
def test_contract_arithmetic_on_arrays_is_elementwise(kind: ContractType) -> None:
    inst = _contract(kind, 0.5)
    qty = np.array([1.0, -2.5, 0.0, 4.0])
    price = np.array([10.0, 20.5, 30.0, 99.25])
    side = np.array([1, -1, 1, -1])
    fee = np.array([0.1, -0.2, 0.0, 0.3])
    for name, args in (
        ("position_value", (qty, price)),
        ("notional", (qty, price)),
        ("cash_delta", (side, np.abs(qty), price, fee)),
        ("equity", (fee, qty, price)),
    ):
        got = getattr(inst, name)(*args)
        each = [getattr(inst, name)(*(float(a[k]) for a in args)) for k in range(qty.size)]
        assert got.dtype == np.float64 and got.tolist() == each, name
