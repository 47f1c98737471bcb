"""The serving stages as operators, one module per stage variant (graph.py declares
them, their tensors and their files, and imports a variant's module only when it builds
it, so that a stage loads only the libraries it uses: filtering and ordering never load
FAISS, onnxruntime or RocksDB).

The logic is in the stage modules one level up (retrieval, filtering, scoring, ordering
and HPS's); an operator only joins it to its files, its settings and what it reads at
run time.
"""
