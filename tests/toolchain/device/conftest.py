from tests.firmware_export.firmware.conftest import tiny, tiny_firmware  # noqa: F401  (session fixtures)
