from tests.firmware_export.firmware.conftest import toy_firmware  # noqa: F401  (session fixture)
