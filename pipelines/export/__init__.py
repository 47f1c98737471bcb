"""Export: turn the latest published models into a Triton model repository."""
