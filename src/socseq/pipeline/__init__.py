"""The gridded GSOCseq pipeline."""
