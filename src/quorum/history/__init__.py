"""Durable history: the HistoryStore interface, an in-memory and a SQLite backend."""
