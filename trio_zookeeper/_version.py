"""The version of trio_zookeeper, kept in one place."""

#: The version of trio_zookeeper (:pep:`440`), e.g. ``"0.1.0"``.
__version__ = "0.1.0.dev0"
