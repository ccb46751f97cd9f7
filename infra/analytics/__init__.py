"""Analytics adapters: the set-based SQL of the metrics and the jobs that run it."""
