"""Figures with their sample size and a 95% interval (pure Python).

A share measured on n photos is printed and shown as, e.g.,
"93.4% (91.6–95.0%, 800 photos)": the Wilson score interval, which stays
inside [0, 1] and is honest for small n and for shares near 0 or 1 (where
"± 1.96 standard errors" would claim an interval beyond 100%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal


@dataclass(frozen=True)
class Share:
    k: int  # how many of the n were counted (right, refused, ...)
    n: int

    @classmethod
    def of(cls, value: float, n: int) -> Share:
        """From a stored rate and its sample size (k is recovered exactly for n < 10^4)."""
        return cls(k=round(value * n), n=n)

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """The Wilson score interval."""
        if self.n == 0:
            return (0.0, 1.0)
        p, n = self.value, self.n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        # At k = 0 or k = n one end is the share itself (exactly, not 1 - 1e-16).
        low = 0.0 if self.k == 0 else max(0.0, centre - half)
        high = 1.0 if self.k == self.n else min(1.0, centre + half)
        return (low, high)

    def describe(self, unit: str = "photos") -> str:
        """'93.4% (91.6–95.0%, 800 photos)'."""
        if self.n == 0:
            return "not measured"
        low, high = self.interval()
        return f"{self.value:.1%} ({low * 100:.1f}–{high * 100:.1f}%, {self.n} {unit})"
