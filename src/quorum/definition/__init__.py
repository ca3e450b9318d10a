"""Task definitions: the immutable model, the Markdown parser and linter, durations, loading."""
