"""Data shipped with socseq (example inputs written for socseq; no third-party data)."""
