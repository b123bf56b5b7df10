"""Evaluation: Arabic text normalization and the metrics every task is scored with."""
