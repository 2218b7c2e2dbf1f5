"""The catalog model: entries read into typed, validated block specs, and the list/info text.

Imports neither torch nor Jinja: ``list``, ``info`` and ``add`` load it on every run.
"""
