"""The ``orderly`` console script.

``orderly dev``, ``serve`` and ``worker`` get the root command alone
(:func:`orderly_cli.root.make_app`), not the command groups acting on data, which they never
use: that keeps their start short, above all the first one on a fresh clone, when everything
imported is compiled first. ``orderly dev`` also starts compiling what the API and the worker
import before importing anything itself, so that both happen at once (see
:mod:`orderly_cli.bytecode`). Every other command gets the whole CLI.
"""

from __future__ import annotations

import sys

from orderly_cli import bytecode

RUNTIME_COMMANDS = ("dev", "serve", "worker")


def run() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "dev" and bytecode.start_compiling():
        sys.stderr.write("dev    | compiling what Orderly runs (first start only)\n")
    if command in RUNTIME_COMMANDS:
        from orderly_cli.root import make_app

        make_app()()
        return
    from orderly_cli.main import app

    app()


if __name__ == "__main__":
    run()
