"""Walk-forward folds: consecutive (train, test) windows over the data span.

Syntax of ``--walk-forward``:

* ``train=2h,test=1h`` — rolling windows: train on ``[t, t+2h)``, test on ``[t+2h, t+3h)``, then
  move ``t`` on by ``step`` (default: the test length, so test windows tile the span). Durations
  as everywhere in hftlab (:func:`hftlab.units.parse_duration`): ``ns``, ``us``, ``ms``, ``s``,
  ``m``/``min``, ``h``, ``d``.
* ``train=1d,test=1d,step=1d,anchored`` — ``anchored`` keeps every train window starting at the
  span start (an expanding window).
* ``folds=N`` — cut the span into ``N + 1`` equal segments; fold ``i`` trains on segment ``i``
  and tests on segment ``i + 1``.

Windows bound ``ts_local`` (the order events reached the recorder), end exclusive. A train window
and its test window never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hftlab.errors import ConfigError
from hftlab.units import format_duration, parse_duration

__all__ = ["Fold", "WalkForward", "parse_walk_forward"]


@dataclass(frozen=True)
class Fold:
    """One fold: train on ``[train_start, train_end)``, test on ``[test_start, test_end)``."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "fold": self.index,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "test_start": self.test_start,
            "test_end": self.test_end,
        }


@dataclass(frozen=True)
class WalkForward:
    """A parsed ``--walk-forward`` option; :meth:`folds` places it on a span."""

    text: str
    train: int | None = None
    test: int | None = None
    step: int | None = None
    anchored: bool = False
    n_folds: int | None = None

    def folds(self, start: int, end: int) -> list[Fold]:
        """The folds over ``[start, end)``; ConfigError if not even one fits.

        Parameters
        ----------
        start, end
            The data span in ns (``ts_local``; end exclusive).
        """
        span = end - start
        if self.n_folds is not None:
            seg = span // (self.n_folds + 1)
            if seg <= 0:
                raise ConfigError(f"--walk-forward {self.text}: the data span is too short")
            return [
                Fold(
                    i,
                    start + i * seg,
                    start + (i + 1) * seg,
                    start + (i + 1) * seg,
                    # the last test window takes the remainder of the integer division
                    end if i == self.n_folds - 1 else start + (i + 2) * seg,
                )
                for i in range(self.n_folds)
            ]
        assert self.train is not None and self.test is not None
        step = self.step or self.test
        out: list[Fold] = []
        t = start
        while t + self.train + self.test <= end:
            tr_start = start if self.anchored else t
            out.append(
                Fold(len(out), tr_start, t + self.train, t + self.train, t + self.train + self.test)
            )
            t += step
        if not out:
            raise ConfigError(
                f"--walk-forward {self.text}: train + test "
                f"({format_duration(self.train + self.test)}) is longer than the data span "
                f"({format_duration(span)}); use shorter windows or folds=N"
            )
        return out


def parse_walk_forward(text: str) -> WalkForward:
    """Parse ``train=2h,test=1h[,step=30m][,anchored]`` or ``folds=N``.

    Raises
    ------
    ConfigError
        Unknown key, missing train/test, bad duration, folds < 1.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigError("--walk-forward is empty: use train=2h,test=1h or folds=N")
    opts: dict[str, str] = {}
    anchored = False
    for part in parts:
        if part == "anchored":
            anchored = True
            continue
        if "=" not in part:
            raise ConfigError(
                f"--walk-forward {text!r}: {part!r} is not key=value "
                "(keys: train, test, step, folds; flag: anchored)"
            )
        key, value = (s.strip() for s in part.split("=", 1))
        if key not in {"train", "test", "step", "folds"}:
            raise ConfigError(
                f"--walk-forward {text!r}: unknown key {key!r} (train, test, step, folds)"
            )
        opts[key] = value
    if "folds" in opts:
        if set(opts) - {"folds"} or anchored:
            raise ConfigError(
                f"--walk-forward {text!r}: folds=N takes no other keys (or use train/test)"
            )
        try:
            n = int(opts["folds"])
        except ValueError:
            raise ConfigError(f"--walk-forward folds={opts['folds']!r}: not an integer") from None
        if n < 1:
            raise ConfigError(f"--walk-forward folds={n}: need at least 1")
        return WalkForward(text=text, n_folds=n)
    if "train" not in opts or "test" not in opts:
        raise ConfigError(
            f"--walk-forward {text!r}: give both train= and test= (e.g. train=2h,test=1h) "
            "or folds=N"
        )
    return WalkForward(
        text=text,
        train=parse_duration(opts["train"], "--walk-forward train"),
        test=parse_duration(opts["test"], "--walk-forward test"),
        step=parse_duration(opts["step"], "--walk-forward step") if "step" in opts else None,
        anchored=anchored,
    )
