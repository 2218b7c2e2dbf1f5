"""The roles a catalog block plays: read by the catalog and by the wiring package.

Kept apart from both so that ``plugforge.wire`` (which knows nothing of the
catalog) and ``plugforge.catalog.spec`` (which must not import libcst) share one list.
"""

# insert: keeps the map's shape, goes after (or before) a layer; replace: conv-like, takes a layer's place;
# layer: a drop-in layer (an activation, a norm); fuse: combines several maps; utility: a function, not a module.
ROLES = ("insert", "replace", "fuse", "layer", "utility")
WIRED = ("insert", "replace", "layer")  # the roles `add` can place next to one layer of a model
