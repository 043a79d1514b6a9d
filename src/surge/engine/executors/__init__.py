"""Executors carry out a workload's plan in one worker: closed (users) or open (arrival rate)."""
