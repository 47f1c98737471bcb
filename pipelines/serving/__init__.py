"""The serving path's stage logic: retrieval, filtering, scoring, ordering.

Everything here runs inside Triton's Python backend (NumPy 1.26, redis, faiss,
onnxruntime, mmh3, rocksdict — no pandas, no Feast, no PyTorch) and in the batch step, so it imports
only those, its own modules (relatively) and recstack_contract (standard library only):
the export step copies this package and the contract into every model of the
repository, which then carries exactly the code it was exported with.
"""
