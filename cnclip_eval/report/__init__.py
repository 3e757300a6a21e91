"""Leaderboards from result files: ranking, intervals and paired tests, rendering, the regression gate.

``leaderboard`` (pure ranking) and ``stats`` (bootstrap, McNemar) are the core; ``collect`` reads
result files, ``render`` and ``plot`` write text and PNG, ``check`` compares with a baseline.
"""
