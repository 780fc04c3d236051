"""A target's firmware images in the formats its flasher takes (the encoders are in toolchain.base)."""
from __future__ import annotations

from targets import MassStorageOptions, TargetProfile
from toolchain.base.uf2 import bin_to_uf2


def wants_uf2(target: TargetProfile) -> bool:
    """Whether `target` is written as UF2 (a mass-storage flasher with image_format = "uf2")."""
    opts = target.flasher_options
    return isinstance(opts, MassStorageOptions) and opts.image_format == "uf2"


def target_uf2(bin_bytes: bytes, target: TargetProfile) -> bytes:
    """The UF2 image of `target`'s flat binary: at its lowest flash address, with the family ID of
    its [flasher_options]. The one place a UF2 is made (the firmware build writes it, the flasher
    copies it; it makes one only for a bare .bin given to `edgec flash`)."""
    opts = target.flasher_options
    family = opts.uf2_family_id if isinstance(opts, MassStorageOptions) else None
    return bin_to_uf2(bin_bytes, min(r.start for r in target.flash_regions), family)
