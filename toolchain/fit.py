"""Fit pass: what the model needs against what the target has, in flash and SRAM.

Each budget is a list of labelled items (model, runtime code, reserves...), so that the TFLM
runtime and the generated C engine are checked by the same code with their own figures.
"""
from __future__ import annotations

from dataclasses import dataclass

from targets.schema import MemoryRegion, TargetProfile


@dataclass(frozen=True)
class Budget:
    memory: str  # "flash" or "sram"
    items: tuple[tuple[str, int], ...]  # (label, bytes)
    budget_bytes: int

    @property
    def used_bytes(self) -> int:
        return sum(b for _, b in self.items)

    @property
    def free_bytes(self) -> int:
        return self.budget_bytes - self.used_bytes

    @property
    def fits(self) -> bool:
        return self.free_bytes >= 0

    @property
    def overflow_bytes(self) -> int:
        return max(0, -self.free_bytes)


@dataclass(frozen=True)
class FitResult:
    target: str
    runtime: str  # "tflm" or "c"
    flash: Budget
    sram: Budget
    arena: Budget  # the arena against the largest contiguous RAM span that holds its region
    peak_tensors: tuple[tuple[str, int], ...]  # largest activations alive at the peak

    @property
    def fits(self) -> bool:
        return self.flash.fits and self.sram.fits and self.arena.fits

    def problems(self) -> list[str]:
        out = []
        if not self.flash.fits:
            out.append(f"flash: needs {self.flash.used_bytes:,} B of {self.flash.budget_bytes:,} B "
                       f"(over by {self.flash.overflow_bytes:,} B)")
        if not self.sram.fits:
            out.append(f"SRAM: needs {self.sram.used_bytes:,} B of {self.sram.budget_bytes:,} B "
                       f"(over by {self.sram.overflow_bytes:,} B)")
        if not self.arena.fits:
            out.append(f"arena: {self.arena.used_bytes:,} B does not fit the {self.arena.budget_bytes:,} B "
                       f"contiguous RAM that holds it (over by {self.arena.overflow_bytes:,} B)")
        return out


def contiguous_span(region: MemoryRegion, regions: tuple[MemoryRegion, ...]) -> int:
    """Bytes of the run of back-to-back RAM regions that includes `region` (a linker can join them)."""
    rams = sorted((r for r in regions if r.kind == region.kind), key=lambda r: r.start)
    start, end = region.start, region.end
    changed = True
    while changed:
        changed = False
        for r in rams:
            if r.end == start:
                start, changed = r.start, True
            if r.start == end:
                end, changed = r.end, True
    return end - start


def check_fit(target: TargetProfile, runtime: str, flash_items: list[tuple[str, int]],
              sram_items: list[tuple[str, int]], arena_bytes: int,
              peak_tensors: tuple[tuple[str, int], ...] = ()) -> FitResult:
    largest_flash = max(target.flash_regions, key=lambda r: contiguous_span(r, target.memory))
    return FitResult(
        target=target.name, runtime=runtime,
        flash=Budget("flash", tuple(flash_items), contiguous_span(largest_flash, target.memory)),
        sram=Budget("sram", tuple(sram_items), target.sram_bytes),
        arena=Budget("arena", (("arena", arena_bytes),),
                     contiguous_span(target.arena_region, target.memory)),
        peak_tensors=tuple(peak_tensors[:3]),
    )


def tflm_fit(target: TargetProfile, model_bytes: int, arena_bytes: int,
             peak_tensors: tuple[tuple[str, int], ...] = ()) -> FitResult:
    """The fit of a .tflite model run by the TFLM interpreter."""
    r = target.reserves
    return check_fit(
        target, "tflm",
        flash_items=[("model", model_bytes), ("runtime (TFLM, estimate)", r.runtime_flash_bytes),
                     ("application reserve", r.app_flash_bytes)],
        sram_items=[("tensor arena", arena_bytes), ("runtime (TFLM, estimate)", r.runtime_sram_bytes),
                    ("stack", r.stack_bytes), ("application reserve", r.app_sram_bytes)],
        arena_bytes=arena_bytes, peak_tensors=peak_tensors,
    )
