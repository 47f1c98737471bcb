"""Sources of the Triton Python-backend models, copied as `<stage>/1/model.py`.

They run only inside Triton (they import triton_python_backend_utils) and stay thin:
decode tensors, call the stage logic in `recstack_serving` (the copied
pipelines.serving package), encode tensors, and turn every failure into an error
response for that request — never an exception that takes the instance down.
"""
