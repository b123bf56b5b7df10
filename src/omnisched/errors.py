"""omnisched's own error types: every failure a user can cause raises one of these."""

from __future__ import annotations


class OmnischedError(Exception):
    """Base class of every error omnisched raises on purpose."""


class ConfigError(OmnischedError):
    """A recipe or option is invalid; the message names the field and the allowed values."""


class ManifestError(OmnischedError):
    """A manifest row is invalid; carries where it is and what is wrong with it."""

    def __init__(self, file: str, line: int, field: str, reason: str) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, reason
        super().__init__(f"{file}:{line}: field '{field}': {reason}")


class AudioError(OmnischedError):
    """An audio file cannot be used as it is (unreadable, too long, not finite)."""

    def __init__(self, path: object, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


class CheckpointError(OmnischedError):
    """A checkpoint cannot be used: it holds more than tensors, or parts of it are missing."""


class TrainingError(OmnischedError):
    """Training cannot go on (the loss stays non-finite, a single example does not fit)."""
