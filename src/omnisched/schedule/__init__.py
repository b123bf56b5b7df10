"""Schedules: which pools, tasks and examples go into every global batch, step by step.

Importing the package registers the built-in composers (``schedule.composers``), so that every
phase spec may name them.
"""

from omnisched.schedule import composers  # noqa: F401 (registers the built-in composers)
