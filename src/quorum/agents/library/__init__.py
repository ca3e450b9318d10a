"""The built-in agent definitions (one Markdown file per agent); read with importlib.resources."""
