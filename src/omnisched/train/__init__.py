"""Training: the fine-tuning loop, pre-training of the tiny foundation, checkpoints, logs."""
