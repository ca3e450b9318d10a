"""Tests of quorum.history."""
