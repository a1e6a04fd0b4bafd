"""Digital soil mapping of the baseline SOC stock."""
