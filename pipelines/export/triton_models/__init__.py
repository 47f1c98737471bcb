"""Sources of the Triton Python-backend models, copied as `<stage>/1/model.py`.

They run only inside Triton (they import triton_python_backend_utils) and stay thin:
decode a dynamic batch's tensors, call the stage logic in `recstack_serving` (the
copied pipelines.serving package) once for the whole batch, encode tensors, and turn a
failure into an error response for each request of that batch — never an exception
that takes the instance down.
"""
