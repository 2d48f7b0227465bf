"""How fast the command answers: ``make bench`` (and ``make bench-startup``).

Writes ``benchmarks/RESULTS_STARTUP.md``: the wall time of fresh processes,
each the median of several runs taken in turns (so that a busy moment of
the machine hits all of them alike):

- ``python -c "import numpy, PIL.Image"``: the floor, what any prediction
  must import;
- ``logitnet predict --model M photo.jpg`` on one 1024 x 768 JPEG photo;
- ``python -c "from logitnet import LogisticRegression"``;
- ``logitnet --help``.

The target: ``predict`` on one photo within the floor + 0.15 s, on the same
machine, in the same run. The heaviest imports of ``predict`` (``python -X
importtime``) are listed beside it.

Run: ``python benchmarks/bench_startup.py [--out PATH] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import logitnet
from logitnet.app.modelfile import SavedModel, save_model

#: predict on one photo may take at most this much longer than the floor.
TARGET_S = 0.15


def timed(command: list[str]) -> float:
    """Wall time of one fresh process, in seconds (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def import_times(command: list[str], top: int = 8) -> list[tuple[str, float]]:
    """The ``top`` largest cumulative import times of ``command``, in s."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit():
                rows.append((name.strip(), int(cumulative) / 1e6))
    return sorted(rows, key=lambda row: -row[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("RESULTS_STARTUP.md")
    )
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        rng = np.random.default_rng(0)
        # A model of the course's shape: the weights' values do not change
        # the time, only their number.
        model = save_model(
            work / "model.npz",
            SavedModel(
                w=rng.normal(scale=0.01, size=64 * 64 * 3),
                b=0.0,
                classes=["non-cat", "cat"],
                image_shape=(64, 64, 3),
            ),
        )
        photo = work / "photo.jpg"
        gradient = np.linspace(0, 255, 1024, dtype=np.uint8)[None, :, None]
        pixels = np.broadcast_to(gradient, (768, 1024, 3)).copy()
        pixels[..., 1] = rng.integers(0, 256, (768, 1024), dtype=np.uint8)
        Image.fromarray(pixels).save(photo, quality=90)

        cli = [sys.executable, "-m", "logitnet"]
        commands = {
            "python -c 'import numpy, PIL.Image' (floor)": [
                sys.executable,
                "-c",
                "import numpy, PIL.Image",
            ],
            "logitnet predict --model M photo.jpg (1024 x 768)": [
                *cli,
                "predict",
                "--model",
                str(model),
                str(photo),
            ],
            "python -c 'from logitnet import LogisticRegression'": [
                sys.executable,
                "-c",
                "from logitnet import LogisticRegression",
            ],
            "logitnet --help": [*cli, "--help"],
        }
        for command in commands.values():
            timed(command)  # warm the file cache once
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(timed(command))
        heaviest = import_times(
            ["-m", "logitnet", "predict", "--model", str(model), str(photo)]
        )

    median = {name: statistics.median(values) for name, values in times.items()}
    floor, predict = list(median.values())[:2]
    verdict = "met" if predict <= floor + TARGET_S else "NOT met"
    lines = [
        "# Start-up: one photo, a fresh process",
        "",
        f"logitnet {logitnet.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC. "
        f"Median of {args.rounds} runs each, taken in turns "
        "(`python benchmarks/bench_startup.py`).",
        "",
        "| command | median | runs |",
        "| --- | ---: | --- |",
        *(
            f"| `{name}` | {median[name]:.3f} s | "
            + ", ".join(f"{t:.2f}" for t in values)
            + " |"
            for name, values in times.items()
        ),
        "",
        f"Target: `predict` on one photo within the floor + {TARGET_S} s: "
        f"{predict:.3f} s against {floor + TARGET_S:.3f} s, **{verdict}** "
        f"(predict − floor = {predict - floor:.3f} s).",
        "",
        "Heaviest imports of `predict` (`python -X importtime`, cumulative):",
        "",
        "| module | cumulative |",
        "| --- | ---: |",
        *(f"| `{name}` | {seconds:.3f} s |" for name, seconds in heaviest),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
