"""Export: the files a firmware project needs (TFLM C array, generated C engine, firmware)."""
