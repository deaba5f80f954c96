"""Analyses run at each look (the engine-facing side of the statistics in :mod:`sepsim.platform.stats`)."""
