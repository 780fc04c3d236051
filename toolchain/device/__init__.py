"""Talking to devices: the EEMBC serial protocol, emulators and flashers.

Nothing here knows about models: the protocol moves bytes and lines, the emulator runs an ELF,
the flashers write images.
"""
