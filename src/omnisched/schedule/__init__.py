"""Schedules: which pools, tasks and examples go into every global batch, step by step."""
