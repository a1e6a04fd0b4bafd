"""Data tables of socseq.fetch (class tables)."""
