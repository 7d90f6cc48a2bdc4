"""torch's recurrent layers on this CPU: nn.GRU against nn.LSTM (oneDNN's fused RNN, and with oneDNN off).

    python bench/bench_rnn_layers.py                     # 128 -> 256, 32 x 35 and 256 x 9, two threads
    python bench/bench_rnn_layers.py --threads 1 --repeat 20

Forward and backward of a (T, B, 128) input through one layer of 256 units, the median of ``--repeat`` runs
after three warm-up runs.  ATen sends ``nn.LSTM`` on a CPU to oneDNN (``mkldnn_rnn_layer``, an LSTM only) and
``nn.GRU`` to its generic cell loop; the LSTM has a third more arithmetic, so its ms per GFLOP is the fair
comparison (printed beside).
"""

from __future__ import annotations

import statistics
import time

from common import arguments, machine

import torch


def step_ms(layer: torch.nn.Module, B: int, T: int, E: int, repeat: int) -> float:
    x = torch.randn(T, B, E)
    for _ in range(3):
        layer(x)[0].sum().backward()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        layer(x)[0].sum().backward()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> None:
    args = arguments(__doc__, threads=2, repeat=10, embed=128, hidden=256)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(machine())
    E, H = args.embed, args.hidden
    print(f"\n| B × T | layer | oneDNN | forward + backward | GFLOP/s |\n|---|---|---|---:|---:|")
    for B, T in ((32, 35), (256, 9)):
        for kind, gates in (("GRU", 3), ("LSTM", 4)):
            layer = getattr(torch.nn, kind)(E, H)
            flop = 3 * 2 * B * T * gates * H * (E + H)          # forward + backward: 3x the two products
            for on in ((True, False) if kind == "LSTM" else (True,)):
                with torch.backends.mkldnn.flags(enabled=on):
                    ms = step_ms(layer, B, T, E, args.repeat)
                print(f"| {B} × {T} | nn.{kind} | {'on' if on else 'off'} | {ms:.1f} ms | {flop / ms / 1e6:.0f} |")


if __name__ == "__main__":
    main()
