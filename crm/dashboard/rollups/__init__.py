"""Each rollup, computed from its source rows for a run of days and written whole."""
