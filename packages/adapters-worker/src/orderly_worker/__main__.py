"""``python -m orderly_worker``: run a background worker (see :mod:`orderly_worker.process`)."""

from orderly_worker.process import main

main()
