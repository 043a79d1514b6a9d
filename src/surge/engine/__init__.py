"""The load engine: HTTP client, virtual-user runtime, executors, workers and the run lifecycle."""
