"""Stage 2 of loss-gated learning: the loss gate and the schedule of phases and iterations.

Stage 2 trains a speaker classifier on pseudo-labels (k-means clusters of Stage-1 embeddings). Clustered labels
are partly wrong; the loss gate trains only on the samples whose classification loss is at most a threshold
(the "reliable" labels). The schedule, per iteration (at most `max_iterations`):

1. cluster: embed the training set with the best model so far, k-means, new labels;
2. train: the classifier, restarted from the Stage-1 encoder, without gate, until the validation EER has not
   improved for `patience` evaluations;
3. gated: from the best model of step 2, with the gate `gates[iteration]`, again until `patience` evaluations
   bring no improvement; then the next iteration clusters with the best model of this one.

`use_gate: False` is the baseline: the same schedule without step 3. Every decision reads the validation
EER; the state is a plain dict, checkpointed with the models so that a killed run resumes in its phase.

Example
-------
>>> schedule = LGLSchedule(gates=[1.0], patience=2, max_iterations=1)
>>> schedule.phase, schedule.clustered(), schedule.phase
('cluster', 'train', 'train')
>>> [schedule.evaluated(eer) for eer in (9.0, 8.0, 8.5, 8.1)]
['continue', 'continue', 'continue', 'gated']
>>> schedule.gate, [schedule.evaluated(eer) for eer in (7.0, 7.5, 7.2)]
(1.0, ['continue', 'continue', 'stop'])
"""

import math

import torch

PHASES = ("cluster", "train", "gated", "done")


def gate_mask(losses, gate):
    """The samples a gate keeps: per-sample loss <= gate (`gate` None keeps every sample)."""
    if gate is None:
        return torch.ones_like(losses, dtype=torch.bool)
    return losses <= gate


def gated_mean(losses, gate):
    """`(mean loss over the kept samples, fraction kept)`; a batch with none kept gives a zero loss that still
    carries a graph (so the step is a no-op rather than a NaN)."""
    keep = gate_mask(losses.detach(), gate)
    kept = keep.sum()
    loss = torch.where(keep, losses, torch.zeros_like(losses)).sum() / kept.clamp(min=1)  # an inf left out stays out
    return loss, float(kept) / max(losses.numel(), 1)


class LGLSchedule:
    """The phase machine (module docstring). `evaluated(eer)` after each validation returns what to do next:

    - "continue": go on training in the same phase;
    - "gated": load the best model of this iteration and train on with `gate`;
    - "recluster": load the best model of this iteration, cluster again (phase "cluster");
    - "stop": the last iteration has ended.
    """

    def __init__(self, gates=(1.0, 3.0, 3.0, 5.0, 6.0), patience=4, max_iterations=5, use_gate=True):
        if use_gate and len(gates) < max_iterations:
            raise ValueError(f"{max_iterations} iterations need as many gates, got {list(gates)}")
        if patience < 1 or max_iterations < 1:
            raise ValueError("patience and max_iterations must be at least 1")
        self.gates, self.patience, self.max_iterations, self.use_gate = list(gates), patience, max_iterations, use_gate
        self.state = {"iteration": 0, "phase": "cluster", "best_eer": math.inf, "best_tag": None, "since_best": 0,
                      "history": []}

    @property
    def phase(self):
        return self.state["phase"]

    @property
    def iteration(self):
        return self.state["iteration"]

    @property
    def gate(self):
        """The gate of the current phase: None outside the gated phase."""
        return self.gates[self.iteration] if self.phase == "gated" else None

    @property
    def best_tag(self):
        """What `evaluated` was given with the best EER of this iteration (e.g. a checkpoint name)."""
        return self.state["best_tag"]

    def clustered(self):
        """The labels of this iteration are ready: train without gate. The best EER starts afresh, since the
        classifier restarts from the Stage-1 encoder on new labels."""
        self._expect("cluster")
        self.state.update(phase="train", best_eer=math.inf, best_tag=None, since_best=0)
        return self.phase

    def evaluated(self, eer, tag=None):
        """Records a validation EER (and `tag`, e.g. the checkpoint it came from); returns the next action."""
        if self.phase not in ("train", "gated"):
            raise RuntimeError(f"an evaluation in phase {self.phase!r}: only the training phases are evaluated")
        s = self.state
        s["history"].append({"iteration": s["iteration"], "phase": s["phase"], "eer": float(eer)})
        if eer < s["best_eer"]:
            s.update(best_eer=float(eer), best_tag=tag, since_best=0)
        else:
            s["since_best"] += 1
        if s["since_best"] < self.patience:
            return "continue"
        s["since_best"] = 0
        if s["phase"] == "train" and self.use_gate:
            s["phase"] = "gated"  # from the best model: the gated phase has to beat it
            return "gated"
        s["iteration"] += 1
        if s["iteration"] >= self.max_iterations:
            s["phase"] = "done"
            return "stop"
        s["phase"] = "cluster"
        return "recluster"

    def _expect(self, phase):
        if self.phase != phase:
            raise RuntimeError(f"schedule in phase {self.phase!r}, not {phase!r}")

    def state_dict(self):
        return {**self.state, "history": list(self.state["history"])}

    def load_state_dict(self, state):
        missing = {"iteration", "phase", "best_eer", "best_tag", "since_best", "history"} - set(state)
        if missing or state["phase"] not in PHASES:
            raise ValueError(f"not an LGL schedule state (missing {sorted(missing)}, phase {state.get('phase')!r})")
        self.state = {**state, "history": list(state["history"])}
