"""Small reimplementations of inference-engine mechanisms."""
