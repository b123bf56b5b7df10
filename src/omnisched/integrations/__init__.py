"""Bridges from omnisched's schedules to other training stacks."""
