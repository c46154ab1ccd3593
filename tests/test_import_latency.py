"""Imports stay light, and the tour's persistent compilation cache is opt-out and wired up.

Import state is checked in a fresh interpreter (this test process has imported everything).
"""

import json
import pathlib
import subprocess
import sys

import pytest

from probkit import cli
from probkit import tour as tour_mod
from probkit.core import prng

_PROBE = """
import json, sys
import probkit.core
core = sorted(m for m in ("numpyro", "blackjax") if m in sys.modules)
import probkit.smc
smc = sorted(m for m in ("numpyro", "blackjax") if m in sys.modules)
import jax
import probkit.cli, probkit.tour
before = jax.config.jax_compilation_cache_dir
probkit.tour.enable_compilation_cache(sys.argv[1])
print(json.dumps(dict(core=core, smc=smc, before=before,
                      after=jax.config.jax_compilation_cache_dir,
                      min_time=jax.config.jax_persistent_cache_min_compile_time_secs)))
"""


def test_core_and_smc_do_not_import_blackjax_and_the_cache_is_opt_in(tmp_path):
    cache = tmp_path / "cache"
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(cache)], capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["core"] == []  # neither numpyro nor blackjax
    assert "blackjax" not in got["smc"]  # numpyro comes with probkit.ssm's models
    assert got["before"] is None  # importing probkit (cli and tour included) changes nothing
    assert got["after"] == str(cache) and cache.is_dir()
    assert got["min_time"] == 0.0


def test_cache_dir_resolution(tmp_path):
    home_cache = pathlib.Path.home() / ".cache" / "probkit" / "jax"
    assert tour_mod.compilation_cache_dir(environ={}) == home_cache
    assert tour_mod.compilation_cache_dir(environ={"XDG_CACHE_HOME": "/x"}) == pathlib.Path(
        "/x/probkit/jax"
    )
    env = {tour_mod.CACHE_ENV: str(tmp_path)}
    assert tour_mod.compilation_cache_dir(environ=env) == tmp_path
    assert tour_mod.compilation_cache_dir("/y", environ=env) == pathlib.Path("/y")
    assert tour_mod.compilation_cache_dir("/y", enabled=False, environ={}) is None
    for off in ("0", "off", "False", "no"):
        assert tour_mod.compilation_cache_dir("/y", environ={tour_mod.CACHE_ENV: off}) is None


@pytest.mark.parametrize(
    "argv, expected",
    [(["--compile-cache", "DIR"], "DIR"), (["--no-compile-cache"], None)],
)
def test_tour_command_turns_the_cache_on_unless_told_not_to(monkeypatch, tmp_path, argv, expected):
    enabled = []
    monkeypatch.delenv(tour_mod.CACHE_ENV, raising=False)
    monkeypatch.setattr(tour_mod, "run", lambda *a, **k: [])  # no examples run
    monkeypatch.setattr(tour_mod, "enable_compilation_cache", enabled.append)
    monkeypatch.setattr(prng, "use_unrolled_threefry_on_cpu", lambda enable=True: True)
    argv = [a.replace("DIR", str(tmp_path)) for a in argv]
    assert cli.main(["tour", *argv]) == 0
    assert enabled == ([] if expected is None else [pathlib.Path(str(tmp_path))])
