"""The report of a search: a ranked table, CSV, JSON and PNGs, read back from the folder.

Everything comes from files (Keras Tuner's ``trial.json``, our
``events.jsonl`` and ``oracle.json``), so a report can be made for a search
that is running, was killed, or ran on several machines:

    OUT/results.csv     one row per trial, ranked: rank, trial, status, objective, seconds,
                        epochs_run, best_epoch, one column per hyperparameter, note
                        (epochs_run: what the trial trained; a searched ``epochs`` is a
                        hyperparameter column of its own)
    OUT/results.json    the same, with counts, the best trial, the rejected draws, the space
    OUT/trials.png      the objective of every trial, in trial order, with the best so far
    OUT/hp_<key>.png    the objective against each hyperparameter

Statuses: ``completed``; ``infeasible`` (a trial whose shapes cannot exist, ended before
anything was built); ``failed`` (a real failure: an exception, a NaN score); ``running``
(began, never ended: killed, or still running). Draws that the oracle rejected as
infeasible before they became trials are counted apart, with their reasons.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import textwrap
from pathlib import Path

from cnn_zoo import preprocess
from cnn_zoo import run as runs
from cnn_zoo.layers.arguments import is_number
from cnn_zoo.recipe import load_recipe
from cnn_zoo.tune.errors import TuneError
from cnn_zoo.tune.space import SearchSpace

PROJECT = "search"


@dataclasses.dataclass
class TrialRow:
    trial_id: str
    status: str
    score: float | None
    values: dict            # hyperparameter key -> value as written in the space
    seconds: float | None
    epochs: int | None
    best_epoch: int | None
    runs: int               # how many times the trial began (a resumed trial began twice)
    tuner_id: str | None
    note: str = ""
    metrics: dict = dataclasses.field(default_factory=dict)
    rank: int | None = None

    @property
    def number(self) -> int:
        return int(self.trial_id) if self.trial_id.isdigit() else -1

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Report:
    out_dir: Path
    objective: str
    direction: str
    rows: list              # TrialRow, ranked: completed best first, then the others by trial
    keys: list              # hyperparameter keys, in the space's order
    rejected: dict          # {"draws", "distinct", "by_layer", "examples"}
    meta: dict              # tune.json

    @property
    def counts(self) -> dict:
        out = {s: sum(r.status == s for r in self.rows) for s in ("completed", "infeasible", "failed",
                                                                  "running")}
        return {"trials": len(self.rows), **out, "rejected_draws": self.rejected["draws"]}

    def best(self) -> TrialRow | None:
        return next((r for r in self.rows if r.status == "completed"), None)

    def trial(self, trial_id) -> TrialRow | None:
        wanted = str(trial_id)
        for r in self.rows:
            if r.trial_id == wanted or (wanted.isdigit() and r.number == int(wanted)):
                return r
        return None

    def as_dict(self) -> dict:
        best = self.best()
        return {"objective": self.objective, "direction": self.direction, "counts": self.counts,
                "best": best.as_dict() if best else None, "trials": [r.as_dict() for r in self.rows],
                "rejected": self.rejected, "search_space": self.meta.get("search_space"),
                "feasibility": self.meta.get("feasibility"), "tuner": self.meta.get("tuner"),
                "recipe": self.meta.get("recipe")}

    def summary(self) -> str:
        c = self.counts
        text = (f"{c['trials']} trials: {c['completed']} completed, {c['infeasible']} infeasible, "
                f"{c['failed']} failed" + (f", {c['running']} running or interrupted" if c["running"] else ""))
        if c["rejected_draws"]:
            text += (f"; {c['rejected_draws']} sampled configurations rejected as infeasible "
                     "before building")
        return text

    def table(self, limit: int | None = 20) -> str:
        """The ranked table: rank, trial, objective, time, epochs run and every hyperparameter."""
        short = _short_names(self.keys)
        header = ["rank", "trial", self.objective, "time", "epochs_run", *short]
        lines = []
        for r in self.rows[:limit] if limit else self.rows:
            score = f"{r.score:.4f}" if r.score is not None else r.status
            lines.append([str(r.rank or "-"), r.trial_id, score,
                          f"{r.seconds:.1f} s" if r.seconds is not None else "-",
                          str(r.epochs) if r.epochs is not None else "-",
                          *(_fmt(r.values.get(k), k) for k in self.keys)])
        widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
        out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *lines]]
        hidden = len(self.rows) - len(lines)
        if hidden > 0:
            out.append(f"... and {hidden} more trials in {self.out_dir / 'results.csv'}")
        notes = [f"trial {r.trial_id} {r.status}: {r.note}" for r in self.rows
                 if r.status != "completed" and r.note][:5]
        return "\n".join([self.summary(), f"objective: {self.objective} ({self.direction})", *out, *notes])


def _fmt(value, key="") -> str:
    if value is None:
        return "-"
    if key == "preprocessing" and isinstance(value, list):
        return preprocess.short(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _short_names(keys) -> list[str]:
    """Last path parts ('filters', 'learning_rate') where they are unambiguous."""
    short = [re.sub(r"^.*\.", "", k) for k in keys]
    return [s if short.count(s) == 1 else k for s, k in zip(short, keys)]


def _last_line(message) -> str:
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _metric_values(state) -> dict:
    out = {}
    for name, history in ((state.get("metrics") or {}).get("metrics") or {}).items():
        obs = history.get("observations") or []
        if obs and obs[-1].get("value"):
            out[name] = float(obs[-1]["value"][0])
    return out


def load_report(out_dir, space=None) -> Report:
    """The report of the search in ``out_dir`` (cnn_zoo.tune.search's layout)."""
    # Keras Tuner's oracle and tuner modules: `zoo tune --report` of a bad folder answers without them
    from cnn_zoo.tune.oracles import INFEASIBLE
    from cnn_zoo.tune.tuner import read_events

    out_dir = Path(out_dir)
    if not (out_dir / "tune.json").is_file():
        raise TuneError(f"{out_dir} holds no search (no tune.json); give the --out folder of `zoo tune`")
    meta = runs.read_json(out_dir / "tune.json")
    space = space or SearchSpace.of_search(out_dir)
    keys = [p.key for p in space.params]
    project = out_dir / PROJECT
    rows = []
    for path in sorted(project.glob("trial_*/trial.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        events = read_events(path.parent)
        begins = [e for e in events if e.get("event") == "begin"]
        ends = [e for e in events if e.get("event") == "end"]
        status = str(state.get("status") or "").upper()
        message = state.get("message") or ""
        if message.startswith(INFEASIBLE):
            kind, note = "infeasible", message[len(INFEASIBLE):]
        elif status == "COMPLETED":
            kind, note = "completed", ""
        elif status in ("FAILED", "INVALID"):
            kind, note = "failed", _last_line(message) or "failed (see its trial.json)"
        else:
            kind, note = "running", "began and never ended (killed, or running now); --resume continues it"
        if kind == "completed" and ends and ends[-1].get("budget_stopped"):
            note = "stopped early by the time budget"
        values = space.decode((state.get("hyperparameters") or {}).get("values") or {})
        score = state.get("score")
        end = ends[-1] if ends else {}
        rows.append(TrialRow(
            trial_id=str(state.get("trial_id")), status=kind,
            score=float(score) if kind == "completed" and score is not None and math.isfinite(score) else None,
            values=values, seconds=sum(e.get("seconds", 0.0) for e in ends) if ends else None,
            epochs=end.get("epochs"), best_epoch=state.get("best_step") if kind == "completed" else None,
            runs=len(begins), tuner_id=end.get("tuner_id") or (begins[-1].get("tuner_id") if begins else None),
            note=note, metrics=_metric_values(state)))
    direction = meta.get("direction", "max")
    done = sorted((r for r in rows if r.status == "completed" and r.score is not None),
                  key=lambda r: r.score, reverse=direction == "max")
    for rank, r in enumerate(done, 1):
        r.rank = rank
    rest = sorted((r for r in rows if r not in done), key=lambda r: r.number)
    return Report(out_dir, meta.get("objective", "val_accuracy"), direction, [*done, *rest], keys,
                  _rejected(project), meta)


def _rejected(project: Path) -> dict:
    path = project / "oracle.json"
    zoo = {}
    if path.is_file():
        try:
            zoo = json.loads(path.read_text()).get("zoo") or {}
        except (OSError, json.JSONDecodeError):
            zoo = {}
    entries = zoo.get("rejected") or []
    by_layer: dict[str, int] = {}
    for e in entries:
        layer = str(e.get("reason", "")).split(":", 1)[0]
        by_layer[layer] = by_layer.get(layer, 0) + int(e.get("draws", 1))
    return {"draws": int(zoo.get("rejected_draws", 0)), "distinct": len(entries),
            "by_layer": dict(sorted(by_layer.items(), key=lambda kv: -kv[1])),
            "examples": entries[:20]}


def write_report(out_dir, space=None) -> Report:
    """Writes results.csv, results.json and the PNGs; returns the report."""
    report = load_report(out_dir, space)
    out_dir = Path(out_dir)
    with open(out_dir / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "trial", "status", report.objective, "seconds", "epochs_run", "best_epoch",
                         *report.keys, "note"])
        for r in report.rows:
            writer.writerow([r.rank or "", r.trial_id, r.status, "" if r.score is None else r.score,
                             "" if r.seconds is None else round(r.seconds, 3),
                             "" if r.epochs is None else r.epochs,
                             "" if r.best_epoch is None else r.best_epoch,
                             *(_csv_value(r.values.get(k)) for k in report.keys), r.note])
    runs.write_json(out_dir / "results.json", report.as_dict())
    for old in out_dir.glob("hp_*.png"):
        old.unlink()
    plot_report(report, out_dir)
    return report


def _csv_value(value):
    return json.dumps(value) if isinstance(value, (list, dict)) or value is None else value


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")


def plot_report(report: Report, out_dir) -> list[Path]:
    """trials.png and one hp_<key>.png per hyperparameter."""
    import matplotlib  # only the report's pictures need it
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401

    out_dir = Path(out_dir)
    written = []
    rows = sorted(report.rows, key=lambda r: r.number)
    done = [r for r in rows if r.score is not None]
    better = max if report.direction == "max" else min

    fig, ax = plt.subplots(figsize=(7, 4))
    if done:
        ax.plot([r.number for r in done], [r.score for r in done], "o", label="completed")
        best, so_far = [], None
        for r in done:
            so_far = r.score if so_far is None else better(so_far, r.score)
            best.append(so_far)
        ax.step([r.number for r in done], best, where="post", color="C2", label="best so far")
    for status, marker, color in (("infeasible", "x", "C3"), ("failed", "s", "C1"), ("running", ">", "C7")):
        xs = [r.number for r in rows if r.status == status]
        if xs:
            for x in xs:
                ax.axvline(x, color=color, alpha=0.25, linewidth=1)
            ax.plot([], [], color=color, marker=marker, linestyle="", label=status)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(report.objective)
    ax.set_title(report.summary(), fontsize=8)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "trials.png", dpi=100)
    plt.close(fig)
    written.append(out_dir / "trials.png")

    sampling = {k: (v.get("float") or v.get("int") or {}).get("sampling", "linear")
                for k, v in (report.meta.get("search_space") or {}).items() if isinstance(v, dict)}
    for key in report.keys:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        values = [r.values.get(key) for r in done]
        numeric = all(is_number(v) for v in values)
        if numeric:
            ax.plot(values, [r.score for r in done], "o")
            if sampling.get(key) in ("log", "reverse_log"):
                ax.set_xscale("log")
        else:
            texts = [_fmt(v, key) for v in values]
            labels = sorted(set(texts))
            ax.plot([labels.index(t) for t in texts], [r.score for r in done], "o")
            ax.set_xticks(range(len(labels)))
            ax.set_xlim(-0.5, len(labels) - 0.5)
            # A whole preprocessing list is one long label: wrapped, it fits under its tick.
            wrapped = [textwrap.fill(label, 24) for label in labels]
            long = any("\n" in label for label in wrapped)
            ax.set_xticklabels(wrapped, rotation=0 if long else 30, ha="center" if long else "right",
                               fontsize=7 if long else 8)
        ax.set_xlabel(key)
        ax.set_ylabel(report.objective)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"hp_{_slug(key)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
