"""Studies: recipes × seeds, resumable, and their generated report."""
