"""Effective configuration of the ``quorum`` command: flags, environment, ``quorum.toml``, defaults.

Precedence, highest first (documented in ``docs/cli.md``)::

    command-line flags  >  environment variables  >  quorum.toml  >  built-in defaults

For every key the highest source that sets it wins (search paths are *replaced*, not merged, so that
what ``quorum config`` shows is exactly what is searched). Model overrides are the one exception:
they are merged per target (``*`` = every agent, or one agent id), each target taking the value of the
highest source that names it.

``quorum.toml`` is found by walking up from the current directory (the first one found wins), unless
``QUORUM_CONFIG`` names a file. Relative paths inside it are relative to the file's own directory;
relative paths from flags and the environment are relative to the current directory.

Only the standard library (and ``quorum.history._location``, which parses the history setting with it)
is imported here: the CLI reads the configuration before anything heavy.

::

    _settings.py   the values: Config, ProviderSettings, Endpoint; secrets masked when shown
    _sources.py    where they come from: quorum.toml (found, read), the environment, the flags
    _load.py       load_config: every key through the precedence, [models]/[providers]/[endpoints]
"""

from __future__ import annotations

from quorum.config._load import load_config, parse_model_spec
from quorum.config._settings import (
    PROVIDERS,
    Config,
    Endpoint,
    ProviderSettings,
    Source,
    mask_secret,
    mask_url,
)
from quorum.config._sources import CONFIG_FILENAME, ENV_VARS, default_db_path, find_config_file

__all__ = (
    "CONFIG_FILENAME",
    "ENV_VARS",
    "PROVIDERS",
    "Config",
    "Endpoint",
    "ProviderSettings",
    "Source",
    "default_db_path",
    "find_config_file",
    "load_config",
    "mask_secret",
    "mask_url",
    "parse_model_spec",
)
