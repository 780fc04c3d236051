"""The base every other package may import, and which imports none of them: the error tree, the one
checker of the project's TOML files, the .tflite reader and the image encoders (UF2).

Layers, from the bottom (a module imports only from its own layer or those below; a test checks it):
  base               toolchain.base
  hardware facts     targets
  passes and export  toolchain (the rest), firmware_export
  device I/O         toolchain.device, toolchain.benchmark
  command line       toolchain.cli
"""
