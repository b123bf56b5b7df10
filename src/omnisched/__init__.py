"""omnisched: data scheduling for multi-task fine-tuning of audio language models.

The core library: ``data`` (Example, manifests, importers, audio, corpus card), ``schedule``
(strategies and composers registered by name, plans, mixtures, the batch sampler), ``models``
(families, adapter, LoRA, loading, aligner embeddings and caches), ``train`` (a run's schedule,
the fine-tuning loop and the step it shares with ScheduledTrainer, checkpoints, logs, loader),
``eval``, ``export``, ``preview``, ``integrations`` and the top-level ``config``, ``tasks``,
``errors``, ``seeding``, ``cachedir``. ``omnisched.lab`` holds the lab's own work on top of it
(the eSpeak corpus, the tiny foundation and its pre-training, the demo, the studies); the core
never imports the lab (import-linter checks it in ``make lint``). ``omnisched.cli`` is the
front door over both.
"""

__version__ = "0.1.0"
