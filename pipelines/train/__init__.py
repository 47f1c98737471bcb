"""Training: a two-tower retrieval model and a DLRM ranker (PyTorch, CPU), their holdout
evaluation and quality gate, and the versioned ONNX artifacts the serving path loads."""
