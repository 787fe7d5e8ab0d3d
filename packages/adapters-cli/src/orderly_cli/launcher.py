"""The ``orderly`` console script: starts compiling what ``orderly dev`` runs before the CLI
itself is imported, so that both happen at once (see :mod:`orderly_cli.bytecode`)."""

from __future__ import annotations

import sys

from orderly_cli import bytecode


def run() -> None:
    if "dev" in sys.argv[1:2] and bytecode.start_compiling():
        sys.stderr.write("dev    | compiling what Orderly runs (first start only)\n")
    from orderly_cli.main import app

    app()


if __name__ == "__main__":
    run()
