"""Sizes and durations in the syntaxes the objects accept.

* Gateway API and Envoy Gateway durations (GEP-2257): ``^([0-9]{1,5}(h|m|s|ms)){1,4}$``
  (``1h30m``, no fractions, no days);
* NGINX Gateway Fabric durations and sizes (its CRDs @v2.6.7): one number of at most four
  digits and one unit: ``^[0-9]{1,4}(ms|s|m|h)?$`` and ``^\\d{1,4}(k|m|g)?$``;
* ingress-nginx / nginx values: ``100m``, ``3600s``, ``1h``, a bare number of seconds.
"""

from __future__ import annotations

import re
from functools import cache


# Compiled on first use (a lint that meets no such value does not pay for them at start-up).
@cache
def _nginx_size() -> re.Pattern[str]:
    return re.compile(r"^(\d+)([bkmg]?)$", re.I)


@cache
def _nginx_time() -> re.Pattern[str]:
    return re.compile(r"^(\d+)(ms|s|m|h|d|w|M|y)?$")


@cache
def _gep_part() -> re.Pattern[str]:
    return re.compile(r"(\d{1,5})(h|ms|m|s)")

_FACTOR = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
_TIME = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MIB = 1024 * 1024


def size_bytes(value: object) -> int | None:
    """An nginx size (``100m``, ``8k``, ``1048576``) in bytes; ``0`` means unlimited."""
    m = _nginx_size().match(str(value).strip()) if value is not None else None
    return int(m.group(1)) * _FACTOR[m.group(2).lower()] if m else None


def nginx_seconds(value: object) -> int | None:
    """An nginx time (``60``, ``60s``, ``1h``) in whole seconds (ms rounded up)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _nginx_time().match(str(value).strip()) if value is not None else None
    if not m:
        return None
    if m.group(2) == "ms":
        return -(-int(m.group(1)) // 1000)
    factor = _TIME.get(m.group(2))
    return int(m.group(1)) * factor if factor else None


def gep_duration(seconds: int) -> str:
    """Seconds as a GEP-2257 duration: ``3600`` -> ``1h``, ``90`` -> ``1m30s``, ``0`` -> ``0s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{unit}" for v, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return "".join(parts) or "0s"


def gep_seconds(value: object) -> float | None:
    """A GEP-2257 duration in seconds; None when it is not one."""
    if not isinstance(value, str) or not value or not re.fullmatch(r"(\d{1,5}(h|ms|m|s)){1,4}", value):
        return None
    total = 0.0
    for number, unit in _gep_part().findall(value):
        total += int(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def ngf_duration(seconds: int) -> str:
    """Seconds in NGF's one-unit syntax, rounded up to a unit that fits four digits."""
    for unit, factor in (("s", 1), ("m", 60), ("h", 3600)):
        n = -(-seconds // factor)
        if n <= 9999:
            return f"{n}{unit}"
    return "9999h"


def ngf_size(nbytes: int) -> str:
    """Bytes in NGF's ``maxSize`` syntax, rounded up (``0`` disables the check)."""
    if nbytes == 0:
        return "0"
    for unit, factor in (("", 1), ("k", 1024), ("m", MIB), ("g", 1024 ** 3)):
        n = -(-nbytes // factor)
        if n <= 9999:
            return f"{n}{unit}"
    return "9999g"
