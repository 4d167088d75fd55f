"""Collectors: one module per source, each a Collector with collect() -> list[Sample]."""
