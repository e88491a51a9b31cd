"""Importers of real market data into the store (one module per source format)."""
