"""`make bench`: run every bench_*.py (or those named on the command line), print each
figure and update bench/RESULTS.md."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from common import write_results

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    modules = names or sorted(p.stem for p in HERE.glob("bench_*.py"))
    for name in modules:
        module = importlib.import_module(name)
        print(f"# {name}: {module.__doc__.strip().splitlines()[0]}", flush=True)
        figures = module.run()
        for figure in figures:
            print(f"  {figure.line()}", flush=True)
        command = f"make bench  # or: .venv/bin/python bench/run.py {name}"
        write_results(name.removeprefix("bench_"), command, figures, getattr(module, "NOTES", ""))


if __name__ == "__main__":
    main(sys.argv[1:])
