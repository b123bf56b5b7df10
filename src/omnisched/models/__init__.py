"""Model side: adapters that know one model family each, and the tiny embedded foundation."""
