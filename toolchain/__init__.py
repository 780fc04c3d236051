"""edgec: from a trained Keras model to a microcontroller."""

__version__ = "0.1.0"
