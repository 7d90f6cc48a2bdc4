"""Benchmark: what the model picker costs per request once the models are loaded.

    python bench/bench_registry.py [--repeat 200]

Every endpoint that takes a model key calls ``registry.get`` (and the pickers call
``registry.choices``).  Issue 15 measured 78 ms per ``registry.get`` of an already loaded
shipped model, when every call re-parsed each shipped ``checkpoint.json`` (~100-200 KB
each); the goal is under 1 ms.  This prints, for the shipped checkpoints in
``checkpoints/`` (or ``$LYRICDEMO_CHECKPOINTS``):

* the cold cost: ``resources.shipped_models()`` with its cache emptied (every JSON parsed);
* the warm costs: ``shipped_models()``, ``registry.choices(None)`` and ``registry.get(None,
  key)`` for the first shipped model after it was loaded once (median and best of the repeats).

The load average is printed before and after: on a shared 2-core machine other jobs move
every absolute figure.
"""

from __future__ import annotations

import argparse
import os
import time

import common  # noqa: F401  (puts the repository on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()

    from lyricdemo.ui import registry, resources

    print(f"machine: {common.machine()}; load average before: {os.getloadavg()}")
    t0 = time.perf_counter()
    resources.clear_caches()
    shipped = resources.shipped_models()
    cold = time.perf_counter() - t0
    if not shipped:
        raise SystemExit(f"no shipped checkpoint under {resources.checkpoints_dir()}")
    key = shipped[0].key
    registry.get(None, key)                          # loads the weights once (LRU)
    print(f"{len(shipped)} shipped checkpoints in {resources.checkpoints_dir()}; model {key}")
    print(f"  shipped_models(), cold (every JSON parsed): {cold * 1e3:8.2f} ms")
    for name, fn in (("shipped_models(), warm", resources.shipped_models),
                     ("registry.choices(None)", lambda: registry.choices(None)),
                     (f"registry.get(None, {key!r})", lambda: registry.get(None, key))):
        med, best = common.timeit(fn, args.repeat)
        print(f"  {name:<40} median {med * 1e3:8.3f} ms, best {best * 1e3:8.3f} ms  ({args.repeat} runs)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
