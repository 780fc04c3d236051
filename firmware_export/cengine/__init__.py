"""Standalone C inference engine generated from an int8 .tflite (bit-exact with TFLite Micro).

    engine = generate_engine(read_tflite_file("model.tflite"), "model")
    engine.write("out/")          # model.c, model.h and the kernel files the model uses
"""
from toolchain.base.errors import UnsupportedOpsError

from .generate import GeneratedEngine, generate_engine, host_main
from .host import HostEngine, compile_host
from .planner import MemoryPlan

__all__ = ["GeneratedEngine", "HostEngine", "MemoryPlan", "UnsupportedOpsError", "compile_host",
           "generate_engine", "host_main"]
