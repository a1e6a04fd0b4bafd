"""Input/output: rasters, grids, units, soil samples."""
