"""ArviZ export: draws laid out as `(chain, draw, *event)`."""

from collections.abc import Mapping

import jax
import numpy as np

__all__ = ["to_inference_data"]


def to_inference_data(
    posterior: Mapping,
    *,
    sample_stats: Mapping | None = None,
    has_chain_axis: bool = True,
    coords: Mapping | None = None,
    dims: Mapping | None = None,
    observed_data: Mapping | None = None,
):
    """Build an `arviz.InferenceData` from dicts of draws.

    Args:
        posterior: name -> array of shape `(chain, draw, *event)`, or `(draw, *event)` when
            `has_chain_axis=False` (a single chain is added).
        sample_stats: name -> `(chain, draw)` arrays (ArviZ names: `lp`, `acceptance_rate`, ...).
        coords: passed to `arviz.from_dict`.
        dims: passed to `arviz.from_dict`.
        observed_data: name -> array, passed to `arviz.from_dict`.
    """
    import arviz as az

    def prep(group):
        if group is None:
            return None
        out = {}
        for name, value in group.items():
            arr = np.asarray(jax.device_get(value))
            if not has_chain_axis:
                arr = arr[None]
            if arr.ndim < 2:
                raise ValueError(
                    f"draws for {name!r} must have shape (chain, draw, ...), got {arr.shape}"
                )
            out[name] = arr
        return out

    return az.from_dict(
        posterior=prep(posterior),
        sample_stats=prep(sample_stats),
        observed_data=None
        if observed_data is None
        else {k: np.asarray(v) for k, v in observed_data.items()},
        coords=coords,
        dims=dims,
    )
