"""Model side: families, the adapter that knows each of them, LoRA, loading, caches."""
