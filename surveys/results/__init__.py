"""Survey results: the report document, its computation, the analyst pages."""
