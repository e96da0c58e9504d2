"""The garbage collector during a send: what was there before it is left alone.

A send makes a few small objects per supporter (a row, a reading, an email, its request) and
frees them by reference counting within a batch or two. With the collector's defaults, the
objects that were there before the send (modules, compiled templates, SQLAlchemy's caches: a
few hundred thousand) are scanned again at each full collection, and young collections run
every 700 objects: a send of 100,000 spent 1.6 to 1.9 s of its 10 to 12 s collecting.

So, for the time of a send, the objects made before it are frozen (`gc.freeze`: never
scanned, and helper processes forked meanwhile share their pages with this one), and young
collections wait for 50,000 objects to pile up rather than 700, which a send's short-lived
objects hardly ever do. Cyclic garbage is still collected, a little later. Both are undone
when the send ends, however it ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

SEND_YOUNG_THRESHOLD = 50_000
"""Objects allocated and not yet freed between young collections during a send (Python's
default: 700). A send's objects are mostly freed within a batch, before this many pile up."""


@contextmanager
def steady_heap() -> Iterator[None]:
    """Freeze what exists and space young collections out, until the block ends."""
    thresholds = gc.get_threshold()
    young = thresholds[0] and max(thresholds[0], SEND_YOUNG_THRESHOLD)  # 0: collection is off
    gc.freeze()
    gc.set_threshold(young, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
