"""Builders of the small local models that `make up`, the tests and the benchmarks serve (no hub downloads
here): dev-only tooling, kept out of the service packages and their images."""
