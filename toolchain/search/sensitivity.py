"""Per-group sensitivity to structured pruning: the float accuracy after pruning each prunable channel
group alone at a few ratios, with no training (one evaluation each, on a sample of the evaluation data)."""
from __future__ import annotations

from dataclasses import dataclass, field

RATIOS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class GroupSensitivity:
    name: str  # the group's first producer (its structured per_layer key)
    channels: int
    loss: dict[float, float] = field(default_factory=dict)  # ratio -> points lost (float model)


@dataclass(frozen=True)
class Sensitivity:
    baseline: float  # float accuracy of the model on the sample
    samples: int
    groups: tuple[GroupSensitivity, ...]

    def to_dict(self) -> dict:
        return {"baseline": self.baseline, "samples": self.samples,
                "groups": [{"name": g.name, "channels": g.channels,
                            "loss": {f"{r:g}": v for r, v in g.loss.items()}} for g in self.groups]}

    @staticmethod
    def from_dict(d: dict) -> "Sensitivity":
        return Sensitivity(d["baseline"], d["samples"], tuple(
            GroupSensitivity(g["name"], g["channels"], {float(r): v for r, v in g["loss"].items()})
            for g in d["groups"]))


def analyse_sensitivity(model, eval_data, ratios=RATIOS, samples: int = 500) -> Sensitivity:
    """Prune each group alone (the others whole) at each ratio and evaluate: points lost vs the model."""
    from toolchain.compress import structured
    from toolchain.compress.train import evaluate

    data = eval_data.take(samples)
    baseline = evaluate(model, data)
    plan = structured.analyse(model)
    groups = [g for g in plan.groups if g.producers and not g.frozen]
    out = []
    for group in groups:
        others = {p: 0.0 for g in groups if g is not group for p in g.producers}
        loss = {}
        for ratio in ratios:
            pruned = structured.prune_structured(model, ratio, per_layer={**others, group.producers[0]: ratio})
            loss[ratio] = round(100 * (baseline - evaluate(pruned, data)), 4)
        out.append(GroupSensitivity(group.producers[0], group.size, loss))
    return Sensitivity(baseline, len(data), tuple(out))
