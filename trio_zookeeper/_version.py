"""The version of trio_zookeeper, kept in one place."""

__version__ = "0.1.0.dev0"
