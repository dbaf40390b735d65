"""The time-source guard: issue no token when the clock cannot be trusted.

How synchronisation is detected (``clock_check = "kernel"``, the default):
the Linux kernel keeps the NTP discipline state that chrony, ntpd and
systemd-timesyncd maintain. ``adjtimex(2)`` (read-only: ``modes = 0``) returns
``TIME_ERROR`` and sets ``STA_UNSYNC`` while no synchronisation daemon has
disciplined the clock, and reports ``maxerror``, the kernel's bound on the
clock's error in microseconds, which grows by 500 ppm while undisciplined. The
TSA replies ``timeNotAvailable`` (RFC 3161 PKIFailureInfo bit 14) when the clock
is unsynchronised or ``maxerror`` exceeds ``tsa.max_clock_error_ms``.

``clock_check = "off"`` trusts the clock as it is: for development machines
and containers whose host keeps time; the server logs a warning at start.

Configure a time source that follows the national standard time (Law on
Electronic Transactions 2023) in chrony or ntpd; kyso only reads its verdict.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import threading
import time
from dataclasses import dataclass

TIME_ERROR = 5
STA_UNSYNC = 0x0040


class ClockCheck(enum.Enum):
    KERNEL = "kernel"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class ClockStatus:
    synchronised: bool
    max_error_ms: float | None
    reason: str  # empty when usable


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):  # struct timex, linux/timex.h
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


def kernel_clock_status() -> tuple[int, int, int]:
    """(adjtimex state, status flags, maxerror in µs), read-only."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    tx = _Timex()
    tx.modes = 0
    state = libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        raise OSError(ctypes.get_errno(), "adjtimex failed")
    return state, tx.status, tx.maxerror


class ClockGuard:
    """Answers "may a token carry the current time?", re-reading the kernel at
    most once per ``refresh_s``."""

    def __init__(self, mode: ClockCheck, max_error_ms: float, refresh_s: float = 1.0) -> None:
        self.mode = mode
        self.max_error_ms = max_error_ms
        self._refresh = refresh_s
        self._lock = threading.Lock()
        self._status: ClockStatus | None = None
        self._read_at = 0.0

    def status(self) -> ClockStatus:
        if self.mode is ClockCheck.OFF:
            return ClockStatus(True, None, "")
        now = time.monotonic()
        status = self._status
        if status is not None and now - self._read_at < self._refresh:
            return status
        with self._lock:
            status = self._read()
            self._status, self._read_at = status, now
        return status

    def _read(self) -> ClockStatus:
        try:
            state, flags, maxerror_us = kernel_clock_status()
        except OSError as exc:
            return ClockStatus(False, None, f"cannot read the clock state ({exc.strerror})")
        max_error_ms = maxerror_us / 1000
        if state == TIME_ERROR or flags & STA_UNSYNC:
            return ClockStatus(
                False, max_error_ms,
                "the system clock is not synchronised to a time source (the kernel reports "
                "STA_UNSYNC): start chrony or ntpd",
            )
        if max_error_ms > self.max_error_ms:
            return ClockStatus(
                False, max_error_ms,
                f"the clock's error bound ({max_error_ms:.0f} ms) exceeds the configured "
                f"{self.max_error_ms:.0f} ms",
            )
        return ClockStatus(True, max_error_ms, "")
