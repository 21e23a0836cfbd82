"""Scoring: pure functions of maps, fixations and tables (metrics, top-p% agreement, time, regions,
the human ceiling, statistics, faithfulness, accuracy)."""
