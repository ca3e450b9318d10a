"""A worker process of :mod:`quorum.agents.workers`: ``python -m quorum.agents._worker_main <fd>``.

Its own module, so that the worker's ``__main__`` is this and nothing of the pool's pickling is defined
in ``__main__`` (answers must unpickle in the parent by their real module names).
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from quorum.agents.workers import serve

if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
