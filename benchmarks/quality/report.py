"""Write the results: results.json, results.md (tables) and recall.png (grouped bars), plus queries.jsonl."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .runner import metrics


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able results: config, and per system its availability, metrics and timing."""
    names = run["config"]["alterations"]
    systems = {}
    for o in run["outcomes"]:
        entry: dict[str, Any] = {"available": o.available, "reason": o.reason, "note": o.note}
        if o.available:
            m = metrics(run["queries"], o, names)
            entry.update(m)
            entry["build_seconds"] = round(o.build_seconds, 3)
            entry["sampled_per_alteration"] = o.sampled
            entry["errors"] = o.errors
            entry["error_examples"] = o.error_examples
        systems[o.name] = entry
    return {"config": run["config"], "elapsed_seconds": round(run["elapsed_seconds"], 1), "systems": systems}


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}"


def markdown(summary: dict[str, Any]) -> str:
    cfg = summary["config"]
    names = cfg["alterations"]
    avail = {k: v for k, v in summary["systems"].items() if v["available"]}
    cols = list(avail)
    lines = ["# photomatch quality benchmark", ""]
    if cfg.get("command"):
        lines += [f"Command: `{cfg['command']}`", ""]
    lines += [
        f"Photos: {cfg['n_photos']} in `{cfg['images']}`, split with seed {cfg['seed']} into "
        f"{cfg['reported_in_split']} reported and {cfg['distractors_in_split']} distractors; queried: "
        f"{cfg['reported']} reported and {cfg['distractors']} distractors, {len(names)} alterations each "
        f"(alterations v{cfg['alterations_version']}). Run time {summary['elapsed_seconds']:.0f} s with {cfg['workers']} workers; "
        f"{cfg['copies_generated']} altered copies made in this run ({cfg['generation_seconds']:.0f} s), the rest reused from the cache; "
        f"load average {cfg.get('load_average', '?')} at the start (timings are per query on one core, inflated when the machine is busy).",
        "",
        "Recall (%): the right reported photo is among the matches of its altered copy.",
        "",
        "| alteration | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for n in names:
        cells = []
        for c in cols:
            row = avail[c]["per_alteration"][n]
            cell = _pct(row["recall"])
            if avail[c]["sampled_per_alteration"] is not None:
                cell += f" (n={row['n_reported']})"
            cells.append(cell)
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines.append("| **mean recall, altered** | " + " | ".join(_pct(avail[c]["overall"]["mean_recall_altered"]) for c in cols) + " |")
    fm = []
    for c in cols:
        ov = avail[c]["overall"]
        fm.append(f"{ov['false_matches']} / {ov['n_distractor']} ({_pct(ov['fmr'], 2)}%)")
    lines.append("| **false matches, all alterations** | " + " | ".join(fm) + " |")
    qps = []
    for c in cols:
        q = avail[c]["overall"]["queries_per_second"]
        qps.append("–" if q is None else f"{q:.1f}")
    lines.append("| **queries/s (1 core, decoded image in)** | " + " | ".join(qps) + " |")
    lines += [
        "",
        "False-match rate (%): distractor copies (no reported photo in them) that match anything.",
        "",
        "| alteration | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for n in names:
        cells = []
        for c in cols:
            row = avail[c]["per_alteration"][n]
            cells.append(f"{_pct(row['fmr'])} ({row['false_matches']}/{row['n_distractor']})")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "Systems:", ""]
    for name, s in summary["systems"].items():
        if not s["available"]:
            lines.append(f"- `{name}`: **unavailable** — {s['reason']}")
            continue
        extra = ""
        if s["sampled_per_alteration"] is not None:
            extra += f" Slow: queried only on the copies of {s['sampled_per_alteration']} reported and {s['sampled_per_alteration']} distractor photos (a seeded draw, the same for every alteration; --sample-slow)."
        if s["errors"]:
            extra += f" {s['errors']} queries raised (counted as no match), e.g. {s['error_examples'][0]}."
        lines.append(f"- `{name}`: {s['note']}; reported side built in {s['build_seconds']:.1f} s (peers: per-photo hashing times summed).{extra}")
    return "\n".join(lines) + "\n"


def plot(summary: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = summary["config"]["alterations"]
    avail = {k: v for k, v in summary["systems"].items() if v["available"]}
    fig, ax = plt.subplots(figsize=(max(12, 0.8 * len(names)), 6.5), dpi=110)
    k = max(1, len(avail))
    width = 0.84 / k
    x = np.arange(len(names))
    colours = plt.get_cmap("tab10")
    for i, (sname, s) in enumerate(avail.items()):
        vals = [100 * (s["per_alteration"][n]["recall"] or 0) for n in names]
        fmr = s["overall"]["fmr"]
        label = f"{sname} (FMR {_pct(fmr, 2)}%" + (", sampled)" if s["sampled_per_alteration"] is not None else ")")
        ax.bar(x - 0.42 + width * (i + 0.5), vals, width, label=label, color=colours(i % 10))
    ax.set_xticks(x, names, rotation=40, ha="right", fontsize=10)
    ax.set_ylabel("recall (%)")
    ax.set_ylim(0, 105)
    ax.yaxis.grid(True, alpha=0.3)
    ax.set_axisbelow(True)
    cfg = summary["config"]
    ax.set_title(f"Recall per alteration — {cfg['reported']} reported, {cfg['distractors']} distractors; FMR = distractor copies matching anything")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=min(3, k), fontsize=9, frameon=False)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)


def write(run: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write results.json, results.md, recall.png and queries.jsonl (one line per query per system)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(run)
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(markdown(summary))
    plot(summary, out / "recall.png")
    # Answers name reported photos: owner-only, like everything that identifies them.
    fd = os.open(out / "queries.jsonl", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for o in run["outcomes"]:
            for q in run["queries"]:
                key = (q.alteration, q.photo_id)
                if key in o.answers:
                    f.write(json.dumps({"system": o.name, "alteration": q.alteration, "photo": q.photo_id, "reported": q.reported, "matches": o.answers[key], "seconds": round(o.seconds.get(key, 0.0), 5)}) + "\n")
    return summary
