"""Start-up: `outreach --help` and an idle `outreach run --once` against a bare interpreter.

    python bench/startup.py [--runs 20]

In a temporary folder holding the demo campaign (a store with a few supporters, nothing due
at `--now`), it times `python -c pass`, `python -m outreach.cli --help` and
`python -m outreach.cli run --once --now 2017-01-01T00:00:00Z` with the templates' bytecode
cache warm, and once more with it cold (the cache folder emptied before each run). With
hyperfine (Debian package `hyperfine`), each command gets 3 warm-up runs and `--runs` runs,
one command after the other; with `--loop` (or without hyperfine), the commands take turns
`--runs` times. Each command's median counts. Python may write and read its bytecode (.pyc)
whatever `PYTHONDONTWRITEBYTECODE` says, as a package installed by pip has it compiled:
without it, every start compiles outreach's changed modules anew (about 0.3 s here). It
prints the medians and the ratios to the bare interpreter (targets: `--help` at most 8x,
idle `run --once` at most 20x). Figures, not a test; on a shared machine, rerun it and
compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixtures import copy_campaign

IDLE_NOW = "2017-01-01T00:00:00Z"  # before the demo's first reminder: nothing is due


def commands() -> dict[str, list[str]]:
    """The contenders, by name."""
    python = sys.executable
    idle = [python, "-m", "outreach.cli", "run", "--once", "--now", IDLE_NOW]
    return {
        "python -c pass": [python, "-c", "pass"],
        "outreach --help": [python, "-m", "outreach.cli", "--help"],
        "outreach run --once (idle)": idle,
        "outreach run --once (idle, cold cache)": idle,
    }


def prepare(folder: Path, environment: dict[str, str]) -> None:
    """The demo campaign and a store with three supporters."""
    copy_campaign("demo", folder)
    (folder / "supporters.csv").write_text(
        "email,first_name,region,language\na@example.org,Ann,ON,en\n"
        "b@example.org,Béa,QC,fr\nc@example.org,Cy,NS,en\n",
        encoding="utf-8",
    )
    for args in (["supporters", "import", "supporters.csv"], ["check"]):
        subprocess.run(
            [sys.executable, "-m", "outreach.cli", *args],
            cwd=folder,
            env=environment,
            check=True,
            capture_output=True,
        )


def with_hyperfine(folder: Path, runs: int, environment: dict[str, str]) -> dict[str, float]:
    """Median seconds of each command, by hyperfine."""
    medians = {}
    for name, command in commands().items():
        cold = "cold cache" in name
        options = ["--prepare", f"rm -rf {folder / '.outreach-cache'}"] if cold else []
        report = folder / "hyperfine.json"
        hyperfine = ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), *options]
        subprocess.run(
            [*hyperfine, "--export-json", str(report), " ".join(command)],
            cwd=folder,
            env=environment,
            check=True,
            capture_output=True,
        )
        medians[name] = json.loads(report.read_text())["results"][0]["median"]
    return medians


def with_loop(folder: Path, runs: int, environment: dict[str, str]) -> dict[str, float]:
    """Median seconds of each command, the commands taking turns."""
    times: dict[str, list[float]] = {name: [] for name in commands()}
    for _ in range(runs):
        for name, command in commands().items():
            if "cold cache" in name:
                shutil.rmtree(folder / ".outreach-cache", ignore_errors=True)
            started = time.perf_counter()
            subprocess.run(command, cwd=folder, env=environment, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(found) for name, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--loop", action="store_true", help="do not use hyperfine")
    args = parser.parse_args()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
    clean.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files
    with tempfile.TemporaryDirectory(prefix="outreach-startup-") as temporary:
        folder = Path(temporary)
        prepare(folder, clean)
        use_hyperfine = shutil.which("hyperfine") is not None and not args.loop
        measure = with_hyperfine if use_hyperfine else with_loop
        medians = measure(folder, args.runs, clean)
    bare = medians["python -c pass"]
    how = "hyperfine" if use_hyperfine else "a loop"
    print(f"medians of {args.runs} runs each ({how}), {os.cpu_count()} CPUs:")
    targets = {"outreach --help": 8, "outreach run --once (idle)": 20}
    for name, seconds in medians.items():
        target = f" (target: at most {targets[name]}x)" if name in targets else ""
        print(f"  {name:<40} {seconds * 1000:7.1f} ms  {seconds / bare:5.1f}x{target}")


if __name__ == "__main__":
    main()
