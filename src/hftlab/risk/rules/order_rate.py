"""``order_rate``: refuse new orders and modifies once ``max_order_rate`` requests (new,
modify, cancel; the manager's own cancels and flatten orders included) were sent in the
rolling second ``(now − 1 s, now]``. Cancels are never refused. See ``docs/risk.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hftlab.risk.rules.base import Rule
from hftlab.units import NS_PER_S

if TYPE_CHECKING:
    from hftlab.strategy import Order

__all__ = ["OrderRate"]


class OrderRate(Rule):
    """``order_rate``: requests per rolling second of local time."""

    name = "order_rate"
    key = "max_order_rate"
    counts_requests = True

    def check_request(
        self, inst: int, side: int, ticks: int, lots: int, tif: int, extra: int, order: Order | None
    ) -> int:
        s = self.state
        q = s.req_times
        cut = s.ctx.now - NS_PER_S
        while q and q[0] <= cut:  # forget what left the window
            q.popleft()
        n = len(q)
        if n < self.limit:
            return 0
        what = (
            s.describe(inst, side, ticks, lots, tif)
            if order is None
            else f"modify order {order.id}"
        )
        return self.refuse(inst, n + 1, self.limit, f"{what}: {n} requests in the last second")
