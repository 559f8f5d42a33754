"""``python -m jobsync``: the same command as the ``jobsync`` console script."""

from jobsync.cli import main

main()
