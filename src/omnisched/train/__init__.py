"""Training: the fine-tuning loop, checkpoints, logs and the data loader."""
