"""The execution engine: executor, context, scheduler, phases, retries, events, handles.

``quorum.run`` is both this package and the blocking helper ``quorum.run(task, input, **options)``
(:func:`quorum.run.api.run`): once the package is imported, Python binds ``quorum.run`` to it, so the
package itself is made callable and forwards to that helper.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ()


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from quorum.run.api import run

        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
