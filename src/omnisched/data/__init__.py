"""Corpus side: examples, manifests, audio and the embedded synthetic corpus."""
