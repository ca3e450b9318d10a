"""Steps: the strategy and aggregator protocols, the registry and the built-in aggregators."""
