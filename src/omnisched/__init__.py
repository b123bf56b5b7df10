"""omnisched: data scheduling for multi-task fine-tuning of audio language models."""

__version__ = "0.1.0"
