"""A spec turned into source: rendering (the only code that imports Jinja and black, lazily), the render cache,
provenance headers, the diff3 merge, new/vendor and diff/update.
"""
