"""Corpus side: examples, manifests, importers, audio and the corpus card."""
