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
