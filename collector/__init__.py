"""quantrac collector: quality-checks raw batches, stores them, publishes them clean."""
