"""Export: C array, generated C engine, firmware."""
