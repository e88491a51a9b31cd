"""Column indices and codes shared by the compiled core and its Python wrappers.

Plain module-level ints: numba freezes them as compile-time constants. The codes that mean
something outside the core (time in force, status, events, reasons, liquidity, request kinds,
wake-up reasons) are taken from the public enums of :mod:`hftlab.vocab`; the rest is the
core's private buffer layout.
"""

from __future__ import annotations

from hftlab.events import FLAG_STALE, FLAG_UNSYNCED
from hftlab.vocab import (
    Liquidity,
    OrderEvent,
    OrderStatus,
    RejectReason,
    RequestKind,
    TimeInForce,
    WakeReason,
)

INF = 9_223_372_036_854_775_807  # int64 max: "never"

# ---------------------------------------------------------------- order types (time in force)
TIF_GTC = int(TimeInForce.GTC)
TIF_POST_ONLY = int(TimeInForce.POST_ONLY)
TIF_IOC = int(TimeInForce.IOC)
TIF_MARKET = int(TimeInForce.MARKET)

# ---------------------------------------------------------------- order status
ST_PENDING = int(OrderStatus.PENDING)  # local only: sent, not yet acknowledged
ST_NEW = int(OrderStatus.NEW)
ST_PARTIAL = int(OrderStatus.PARTIALLY_FILLED)
ST_FILLED = int(OrderStatus.FILLED)
ST_CANCELED = int(OrderStatus.CANCELED)
ST_REJECTED = int(OrderStatus.REJECTED)
ST_EXPIRED = int(OrderStatus.EXPIRED)

# ---------------------------------------------------------------- order events (responses)
EV_ACCEPTED = int(OrderEvent.ACCEPTED)
EV_FILL = int(OrderEvent.FILL)
EV_CANCELED = int(OrderEvent.CANCELED)
EV_REJECTED = int(OrderEvent.REJECTED)
EV_EXPIRED = int(OrderEvent.EXPIRED)
EV_MODIFIED = int(OrderEvent.MODIFIED)
EV_CANCEL_REJECTED = int(OrderEvent.CANCEL_REJECTED)
EV_MODIFY_REJECTED = int(OrderEvent.MODIFY_REJECTED)

# ---------------------------------------------------------------- reject reasons
RJ_NONE = int(RejectReason.NONE)
RJ_POST_ONLY = int(RejectReason.POST_ONLY)
RJ_SELF_TRADE = int(RejectReason.SELF_TRADE)
RJ_UNKNOWN_ORDER = int(RejectReason.UNKNOWN_ORDER)
RJ_BAD_QTY = int(RejectReason.BAD_QTY)
RJ_BAD_PRICE = int(RejectReason.BAD_PRICE)
RJ_TOO_MANY_ORDERS = int(RejectReason.TOO_MANY_ORDERS)
RJ_WOULD_CROSS = int(RejectReason.WOULD_CROSS)
RJ_BOOK_UNSYNCED = int(RejectReason.BOOK_UNSYNCED)

# ---------------------------------------------------------------- liquidity
LIQ_NONE = int(Liquidity.NONE)
LIQ_MAKER = int(Liquidity.MAKER)
LIQ_TAKER = int(Liquidity.TAKER)

# ---------------------------------------------------------------- request kinds
RQ_NEW = int(RequestKind.NEW)
RQ_CANCEL = int(RequestKind.CANCEL)
RQ_MODIFY = int(RequestKind.MODIFY)

# ---------------------------------------------------------------- exchange-side order table
O_ID = 0
O_INST = 1
O_SIDE = 2
O_PRICE = 3
O_QTY = 4
O_FILLED = 5
O_STATUS = 6
O_TIF = 7
O_ACTIVE = 8
O_L1T = 9  # last time the L1 fill model was evaluated for this order
O_SEQ = 10  # acceptance sequence (priority among our own orders)
O_NF = 11
# float companion (queue state)
Q_FRONT = 0  # lots estimated ahead of us at our price
Q_CUMTRADE = 1  # traded lots at our price since the last depth update (avoids double counting)
Q_NF = 2

# ---------------------------------------------------------------- request ring (int64)
R_KIND = 0
R_ID = 1
R_INST = 2
R_SIDE = 3
R_PRICE = 4
R_QTY = 5
R_TIF = 6
R_SENT = 7  # local time sent
R_ARRIVE = 8  # exchange time of arrival (assigned by the core)
R_NF = 9

# ---------------------------------------------------------------- response ring / order log
E_TS_EXCH = 0
E_TS_LOCAL = 1
E_ID = 2
E_INST = 3
E_SIDE = 4
E_PRICE = 5
E_QTY = 6
E_FILLED = 7
E_STATUS = 8
E_EVENT = 9
E_LAST_QTY = 10
E_LAST_PRICE = 11
E_LIQ = 12
E_REASON = 13
E_NF = 14
# float companion
EF_FEE = 0
EF_CASH_DELTA = 1  # signed change of cash from this fill, fee excluded
EF_NF = 2

# ---------------------------------------------------------------- accounts
AI_POS = 0  # exchange-side position, lots (the truth)
AI_LPOS = 1  # position as the strategy knows it (fills delivered), lots
AI_NFILLS = 2
AI_VOL = 3  # traded lots
AI_OPEN = 4  # open orders at the exchange
AI_LBB = 5  # last best bid/ask (price, qty) reported to the strategy
AI_LBBQ = 6
AI_LBA = 7
AI_LBAQ = 8
AI_LTSX = 9  # ts_exchange of the last event the strategy's view applied (-INF before any)
AI_LTSL = 10  # ...and its ts_local
AI_BLO = 11  # price range (ticks) of our open bids: lowest...
AI_BHI = 12  # ...highest (INF / -INF when none)
AI_ALO = 13  # same for our open asks
AI_AHI = 14
# Book sync (rows flagged FLAG_UNSYNCED: a gap in the depth data; see docs/sim-core.md).
AI_XUNS = 15  # the exchange book is out of sync (1) or in sync (0)
AI_XUNS_T0 = 16  # exchange time the current out-of-sync stretch began
AI_XUNS_NS = 17  # time out of sync, ns (stretches that ended)
AI_XSKIP = 18  # depth rows not applied (flagged unsynced)
AI_XGAPS = 19  # times a book holding levels went out of sync (not the wait for a first one)
AI_LUNS = 20  # the strategy's book: 0 in sync, 1 out of sync, 2 back in sync (not yet told)
AI_NF = 21
AF_CASH = 0
AF_FEES = 1
AF_NOTIONAL = 2
AF_NF = 3

# ---------------------------------------------------------------- instrument params (float64)
IP_TNUM = 0  # price = ticks * TNUM / TDEN (exact ratio of the tick size)
IP_TDEN = 1
IP_LNUM = 2
IP_LDEN = 3
IP_CSIZE = 4
IP_CTYPE = 5  # 0 spot, 1 linear, 2 inverse
IP_MAKER = 6
IP_TAKER = 7
IP_BOOKSRC = 8  # 0 depth events build the book, 1 BBO events do
IP_MODX = 9  # a modify the venue cannot apply (see SimConfig.modify_rule): 1 cancels, 0 rejects
IP_NF = 10
CT_SPOT = 0
CT_LINEAR = 1
CT_INVERSE = 2

# ---------------------------------------------------------------- queue models
QM_RISK_AVERSE = 0
QM_PROB_POWER = 1
QM_PROB_LOG = 2
QM_L1 = 3

# ---------------------------------------------------------------- latency kinds
LAT_CONSTANT = 0
LAT_EMPIRICAL = 1
LAT_SERIES = 2

# ---------------------------------------------------------------- float config
CF_QPOW = 0
CF_L1_A = 1  # fills per second at the touch
CF_L1_K = 2  # decay per tick of distance
CF_NF = 3

# ---------------------------------------------------------------- control block (int64)
C_IL = 0  # local cursor in the current buffer
C_IX = 1  # exchange cursor
C_FINAL = 2  # 1: no more data after this buffer
C_NOW = 3  # local time of the last wake-up (the strategy's "now")
C_TIMER = 4  # next timer (local time), INF if none
C_NEXT_REC = 5
C_REC_INT = 6
C_RQ_HEAD = 7
C_RQ_TAIL = 8
C_RQ_ASSIGNED = 9
C_LAST_ARR = 10
C_RS_TAIL = 11
C_RS_DELIV = 12
C_RS_DRAIN = 13
C_LAST_DELIV = 14
C_SL_N = 15
C_REASON = 16
C_R_INST = 17
C_R_IDX = 18
C_LOCAL = 19  # maintain local books and wake the strategy
C_SUB_QUOTE = 20
C_SUB_TRADE = 21
C_SUB_BOOK = 22
C_SUB_ORDER = 23
C_END_T = 24  # last ts_local of the data (valid once C_FINAL)
C_QMODEL = 25
C_LAT_E = 26
C_LAT_R = 27
C_EVENTS = 28  # market events applied at the exchange
C_SEQ = 29
C_NEXT_ID = 30
C_ERROR = 31  # nonzero: an engine failure code (see ERR_*)
C_HORIZON = 32  # exchange rows with time < horizon are released; stop before it
C_NSLOT = 33  # order slots in use are all below this (high-water mark)
C_SUB_STATUS = 34  # wake the strategy when a local book goes out of sync or back in
C_XUNS = 35  # instruments whose exchange book is out of sync
C_LUNS = 36  # instruments whose local book is out of sync or back in sync untold (AI_LUNS != 0)
C_FLAGGED = 37  # 1 if the rows the core holds include one flagged unsynced (set by SimCore)
C_R_NEXT = 38  # at a BOOK_STATUS wake-up: the quote/book wake-up the same row also made (or 0)
C_FMASK = 39  # F_UNSYNCED: rows so flagged are held (SimConfig.book_gaps "hold"); 0: applied
C_NF = 40

# ---------------------------------------------------------------- wake-up reasons
W_NEED_DATA = int(WakeReason.NEED_DATA)
W_END = int(WakeReason.END)
W_TIMER = int(WakeReason.TIMER)
W_QUOTE = int(WakeReason.QUOTE)
W_TRADE = int(WakeReason.TRADE)
W_BOOK = int(WakeReason.BOOK)
W_ORDER = int(WakeReason.ORDER)
W_LOG_FULL = int(WakeReason.LOG_FULL)
W_ERROR = int(WakeReason.ERROR)
W_BOOK_STATUS = int(WakeReason.BOOK_STATUS)
# Added to the reason :func:`run` returns when responses were delivered since the last drain.
W_NEW_RESPONSES = 256

# ---------------------------------------------------------------- event flags (hftlab.events)
F_UNSYNCED = FLAG_UNSYNCED
F_STALE = FLAG_STALE

ERR_RESP_RING_FULL = 1
ERR_ORDER_TABLE_FULL = 2

# ---------------------------------------------------------------- state samples (float64)
S_INST = 0
S_MID = 1
S_POS = 2
S_CASH = 3
S_FEES = 4
S_EQUITY = 5
S_BID = 6  # our best resting bid (price), NaN if none
S_ASK = 7
S_BID_QTY = 8  # our open bid size at that price
S_ASK_QTY = 9
S_NOTIONAL = 10
S_NF = 11
