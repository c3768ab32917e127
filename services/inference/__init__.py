"""Inference service: the vLLM engine in-process behind a gRPC servicer."""
