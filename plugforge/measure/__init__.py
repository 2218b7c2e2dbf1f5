"""The only code that imports torch: one module measured, a user's model built and run, channels probed for add."""
