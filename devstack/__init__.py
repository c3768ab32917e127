"""Runs the whole stack on one machine, for `make up` and for the tests: PostgreSQL, the four services
and Envoy, each a child process stopped by its PID."""
