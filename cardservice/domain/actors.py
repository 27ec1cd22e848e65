"""Who did it: every event records the acting principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    """An administrator token, a holder, a merchant or the system itself."""

    kind: str  # "admin" | "holder" | "merchant" | "system"
    id: str
    role: str
    region: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "role": self.role, "region": self.region}

    @classmethod
    def system(cls, why: str = "system") -> Actor:
        return cls(kind="system", id=why, role="system", region="000000")
