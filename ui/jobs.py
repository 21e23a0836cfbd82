"""Long work in a background thread, so a page stays responsive: the page keeps the job in
session state, polls :meth:`BackgroundJob.snapshot` from a fragment (``st.fragment(run_every=…)``)
and offers a Stop button that sets the job's ``cancel`` event.

The work runs without a Streamlit script context: it must draw nothing (it reports through the
``update`` callback, and the page draws the snapshots).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

S = TypeVar("S")
R = TypeVar("R")
Work = Callable[[Callable[[S], None], threading.Event], R]
"""``work(update, cancel)``: calls ``update(snapshot)`` as it goes, stops soon after
``cancel`` is set, and returns the result."""


class BackgroundJob(Generic[S, R]):
    """``work`` run once in a daemon thread, cancellable, with progress snapshots.

    ``key`` identifies the inputs (the page compares it with its current choices); ``result``
    holds what ``work`` returned and ``error`` what it raised (the page reports it).
    """

    def __init__(self, key: Hashable, work: Work, initial: S) -> None:
        self.key = key
        self.cancel = threading.Event()
        self.result: R | None = None
        self.error: Exception | None = None
        self._lock = threading.Lock()
        self._snapshot = initial
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def update(self, snapshot: S) -> None:
        with self._lock:
            self._snapshot = snapshot

    def _run(self, work: Work) -> None:
        try:
            self.result = work(self.update, self.cancel)
        except Exception as error:  # noqa: BLE001 - handed to the page, which reports it
            self.error = error

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self) -> S:
        with self._lock:
            return self._snapshot

    def stop(self) -> None:
        """Ask the work to stop at its next check of ``cancel`` (it keeps what it has)."""
        self.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends or ``timeout`` seconds pass; True when it has ended."""
        self._thread.join(timeout)
        return not self.running
