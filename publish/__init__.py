"""Everything that writes: Parquet, CSV/XLSX exports, the DuckDB database, the HTML report, the
manifest, and the run's lock and atomic swap."""
