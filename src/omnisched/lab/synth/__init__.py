"""The embedded corpus: Arabic (and English) multi-task speech spoken by eSpeak NG."""
