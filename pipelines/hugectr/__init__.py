"""The ranker in HugeCTR's inference format, and what reads it back on CPU.

HugeCTR's Triton backends (and HPS) load a model as three kinds of files: a network JSON
(the layer graph), a dense file (every trainable weight, raw fp32) and one folder per
embedding table (`key`, `emb_vector`). `network.py` writes the graph, `from_torch.py`
orders the PyTorch weights as HugeCTR's layers hold them,
`pipelines/serving/hugectr_files.py` reads and writes the files (the serving hosts read
them too), `evaluator.py` computes click probabilities from the files alone, as
HugeCTR's layers define them, and `export.py` publishes them only when that evaluation
reproduces the PyTorch model.

What these files must look like is taken from HugeCTR 23.08/24.06's source; no GPU has
loaded them from this repository. The CPU evaluator is the executable statement of the
layer semantics the kit relies on.
"""
