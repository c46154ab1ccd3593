"""ArviZ export: draws laid out as `(chain, draw, *event)`."""

from collections.abc import Mapping

import jax
import numpy as np

__all__ = ["optimization_trace", "to_inference_data"]


def to_inference_data(
    posterior: Mapping,
    *,
    sample_stats: Mapping | None = None,
    has_chain_axis: bool = True,
    coords: Mapping | None = None,
    dims: Mapping | None = None,
    observed_data: Mapping | None = None,
    warmup_posterior: Mapping | None = None,
    warmup_sample_stats: Mapping | None = None,
):
    """Build an `arviz.InferenceData` from dicts of draws.

    Args:
        posterior: name -> array of shape `(chain, draw, *event)`, or `(draw, *event)` when
            `has_chain_axis=False` (a single chain is added).
        sample_stats: name -> `(chain, draw)` arrays (ArviZ names: `lp`, `acceptance_rate`, ...).
        coords: passed to `arviz.from_dict`.
        dims: passed to `arviz.from_dict`.
        observed_data: name -> array, passed to `arviz.from_dict`.
        warmup_posterior: burn-in draws, laid out like `posterior` (ArviZ's `warmup_posterior`
            group, which diagnostics leave out).
        warmup_sample_stats: burn-in sample statistics, laid out like `sample_stats`.

    Examples:
        >>> from probkit.core.inference_data import to_inference_data
        >>> idata = to_inference_data(
        ...     {"mu": np.zeros((2, 10))}, sample_stats={"lp": np.zeros((2, 10))}
        ... )
        >>> idata.groups(), dict(idata.posterior["mu"].sizes)
        (['posterior', 'sample_stats'], {'chain': 2, 'draw': 10})
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
        warmup_posterior=prep(warmup_posterior),
        warmup_sample_stats=prep(warmup_sample_stats),
        save_warmup=warmup_posterior is not None or warmup_sample_stats is not None,
    )


def optimization_trace(values: Mapping):
    """An `arviz.InferenceData` whose only group, `optimization_trace`, holds optimiser iterates.

    Iterates of an optimiser (MLE, score climbing) are not posterior draws, so they are kept out
    of the `posterior` group that ArviZ's diagnostics read. `values`: name -> array of shape
    `(iteration, *event)`.

    Examples:
        >>> from probkit.core.inference_data import optimization_trace
        >>> trace = optimization_trace({"theta": np.zeros((5, 2))})
        >>> trace.groups(), dict(trace.optimization_trace["theta"].sizes)
        (['optimization_trace'], {'iteration': 5, 'theta_dim_0': 2})
    """
    import arviz as az
    import xarray as xr

    data = {}
    for name, value in values.items():
        arr = np.asarray(jax.device_get(value))
        if arr.ndim < 1:
            raise ValueError(f"trace for {name!r} must have shape (iteration, ...), got ()")
        dims = ("iteration", *(f"{name}_dim_{i}" for i in range(arr.ndim - 1)))
        data[name] = (dims, arr)
    return az.InferenceData(optimization_trace=xr.Dataset(data))
