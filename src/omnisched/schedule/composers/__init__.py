"""Composers: how one global batch is filled from a phase's pools. One file each, registered by
name (``schedule.phases.register_composer``); importing this package registers the built-ins.

- ``shuffle`` walks one fresh permutation of all the phase's examples per epoch; batch ``s`` is
  a slice of it.
- ``random`` draws each batch's pool counts from the mixture, then takes the next examples of
  each pool's own epoch permutation.
- ``ads`` balances a batch over tasks, then over labels inside a task (k-means clusters of the
  aligner embeddings for tasks without labels), and inside each stratum picks, from a window of
  candidates, the one farthest from what the batch already holds (greedy k-center on aligner
  embeddings).

With ``sort_window`` W every composer forms batches of similar duration (less padding) and keeps
its own rules: the shuffle and random composers draw W batches at a time and cut them again by
duration (the random one keeps every batch's number of speech and text examples, and the
window's pool counts); the ads composer takes every stratum at one duration quantile of
what it has left (the quantiles cycle over each W batches): a W-th of its first
W × (``window`` + slots − 1) unused positions, so task and label balance hold in every batch
and padding stays level over a run. "No repeat inside an epoch of a pool or stratum" and "no
example twice in a batch" hold throughout.

Every random choice of batch ``s`` draws from a generator seeded by ``(seed, phase, s)``;
permutations by ``(seed, phase, pool or stratum, epoch)``.
"""

from omnisched.schedule.composers import ads, random_draws, shuffle  # noqa: F401 (registers)
