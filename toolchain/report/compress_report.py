"""The result of `edgec compress`: the compression table (toolchain.compress.report.CompressReport)
with the model it was made from and the file written; rendered as text, JSON and HTML."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from toolchain.compress.report import CompressReport


@dataclass(frozen=True)
class CompressCommandReport:
    command: ClassVar[str] = "compress"
    model_name: str
    model_path: str
    output: str  # the compressed .keras file
    compression: CompressReport

    def to_dict(self) -> dict:
        return {"schema_version": 1, "command": self.command,
                "model": {"name": self.model_name, "path": self.model_path},
                "output": self.output, "compression": self.compression.to_dict()}

    def to_json(self) -> str:
        from toolchain.report.build_json import to_json

        return to_json(self.to_dict())

    def to_text(self) -> str:
        return self.compression.to_text()
