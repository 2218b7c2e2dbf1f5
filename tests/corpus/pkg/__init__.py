"""A model package whose modules use relative imports."""
