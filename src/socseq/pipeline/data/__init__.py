"""Built-in tables: the FAO land-use classes and the ESA CCI → FAO reclassification."""
