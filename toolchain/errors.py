"""The error tree, as the toolchain has always imported it. It lives in `base.errors`, so that
`targets` (below the toolchain) raises the same classes without importing the toolchain."""
from base.errors import (EXIT_BAD_INPUT, EXIT_DEVICE, EXIT_DOES_NOT_FIT, EXIT_INTERNAL,  # noqa: F401
                         EXIT_INTERRUPTED, EXIT_OK, CapabilityError, ConversionError, DataError, DeviceError,
                         DoesNotFitError, EdgecError, FieldError, InputFileError, ModelLoadError, OptionError,
                         ToolchainError, UnknownKeyError, UnknownNameError, UnsupportedLayerError,
                         UnsupportedOpsError)

# The names of the TOML checker's one error class from when profiles and recipes had a class each,
# kept for code that still imports them.
ProfileError = FieldError
RecipeError = FieldError
