"""Progress bars driven from inside compiled loops.

`progress.scan` is `jax.lax.scan` with an optional tqdm bar. The bar is updated by
`jax.debug.callback` from inside the compiled loop (about `num_updates` times per run), never by
a host loop around a jitted step, so enabling it does not change what is compiled apart from the
callback. Under `vmap` the loop counter is shared by the batch, so a batch drives one bar.
"""

import itertools
import threading
from typing import ClassVar

import jax
import jax.numpy as jnp
from tqdm.auto import tqdm

__all__ = ["ProgressBar", "scan"]

_ids = itertools.count()
_lock = threading.Lock()


class ProgressBar:
    """Host-side registry of open bars, keyed by the id baked into the compiled loop."""

    bars: ClassVar[dict[int, tqdm]] = {}

    @classmethod
    def update(cls, bar_id: int, total: int, label: str, step) -> None:
        step = int(step)
        with _lock:
            bar = cls.bars.get(bar_id)
            if bar is None or (step == 0 and bar.n >= total):
                if bar is not None:
                    bar.close()
                bar = tqdm(total=total, desc=label, leave=True)
                cls.bars[bar_id] = bar
            done = step + 1
            if done > bar.n:
                bar.update(done - bar.n)
            if done >= total:
                bar.close()
                cls.bars.pop(bar_id, None)


def scan(
    body,
    init,
    xs=None,
    *,
    length: int | None = None,
    enabled: bool = False,
    label: str = "probkit",
    num_updates: int = 50,
):
    """`lax.scan(body, init, xs, length)` with a tqdm bar when `enabled`.

    Same signature and result as `jax.lax.scan`; `label` names the bar.

    Examples:
        >>> from probkit.core import progress
        >>> def body(carry, x):
        ...     return carry + x, 2 * x
        >>> total, doubled = progress.scan(body, 0.0, jnp.arange(4.0), label="demo")
        >>> float(total), doubled.shape
        (6.0, (4,))
    """
    if not enabled:
        return jax.lax.scan(body, init, xs, length=length)
    if length is None:
        length = jax.tree_util.tree_leaves(xs)[0].shape[0]
    bar_id = next(_ids)
    every = max(1, length // max(1, num_updates))

    def report(i):
        jax.debug.callback(lambda s: ProgressBar.update(bar_id, length, label, s), i, ordered=False)

    def wrapped(carry, inp):
        i, x = inp
        jax.lax.cond((i % every == 0) | (i == length - 1), report, lambda _: None, i)
        return body(carry, x)

    steps = jnp.arange(length)
    return jax.lax.scan(wrapped, init, (steps, xs), length=length)
