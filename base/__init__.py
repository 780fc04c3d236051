"""The base every other package may import, and which imports none of them: the error tree and
the one checker of the project's TOML files.

Layers, from the bottom: `base` <- `targets` (hardware facts) <- passes and export
(`toolchain`, `firmware_export`) <- device I/O and the CLI.
"""
