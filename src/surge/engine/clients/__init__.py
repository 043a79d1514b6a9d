"""Protocol clients. Each maps library and OS errors onto the closed set of failure kinds."""
