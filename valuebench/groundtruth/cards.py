"""Task cards for pipeline outputs: metadata (front matter) and the markdown a reader sees."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform

import yaml

from valuebench.groundtruth.matrix import matrix_frame
from valuebench.groundtruth.protocol import TEXT_DIR

COMMON = yaml.safe_load((TEXT_DIR / "common.yaml").read_text(encoding="utf-8"))


def hardware(threads: int | None = None) -> str:
    """The machine a run computed on; ``threads``: the torch threads each unit ran with, when set."""
    threads = threads or os.environ.get("OMP_NUM_THREADS", "default")
    return f"{platform.machine()} CPU, {os.cpu_count()} cores, torch threads {threads}"


def today() -> dt.date:
    return dt.date.today()


def _compute_s(wall: float, compute: tuple) -> float | None:
    """Compute behind the task: the units' summed time when every unit was timed, else unknown."""
    total, _, untimed, _ = compute
    return round(total, 1) if untimed == 0 else None


def metadata(pipe, name, spec, vs, lm, ceiling, config, wall, compute=(0.0, 0, 1, 0)) -> dict:
    """The card's front matter for a run of ``pipe`` (a ``protocol.Pipeline``)."""
    return {
        "name": name, "version": spec.task_version, "type": pipe.task_type, "value_set": vs.name,
        "model": {"name": lm.name, "revision": str(lm.revision)},
        "description": pipe.text["description"], "main_score": "spearman", "pairs": pipe.pairs,
        "symmetric": pipe.symmetric, "held_out_splits": list(pipe.held_out_splits),
        "reference": "https://github.com/andyjliu/conflictscope (scenario format)",
        "license": LICENSE, "noise_ceiling": ceiling,
        "ceilings": {"independent": independent_estimate(pipe, ceiling)},
        "provenance": {"pipeline": f"valuebench groundtruth {spec.kind}",
                       "config": json.loads(json.dumps(config, default=str)),
                       "date": today(), "command": reproduce_command(pipe, spec, vs.name),
                       "hardware": config.get("hardware") or hardware(), "wall_time_s": _compute_s(wall, compute)},
        "pretty_name": pretty_name(pipe.task_type, lm.name, vs.name),
        "tags": ["valuebench", pipe.task_type, vs.name],
    }


def body(pipe, spec, vs, lm, data, ceiling, result, wall, config, compute=(0.0, 0, 1, 0)) -> str:
    """The card's markdown: the pipeline's text (``groundtruth/text``) around the run's numbers."""
    n_train = len(data.train) // max(len(vs), 1)
    n_hold = len(data.holdout) // max(len(vs), 1)
    recipe = pipe.recipe(spec, result)
    if spec.choice == "mcq":
        recipe += " " + COMMON["mcq"].format(seed=spec.seed)
    lines = [
        f"# {vs.name} × {lm.name}: {spec.kind}",
        "",
        "## What it measures",
        pipe.text["description"],
        "",
        "## How it was made",
        recipe,
        "",
        pipe.text.get("definition", COMMON["definition"]),
        "",
        f"- subject model: `{lm.name}` (revision `{lm.revision}`)",
        f"- value set: `{vs.name}` ({len(vs)} values); scenarios per value: ~{n_train} train, ~{n_hold} holdout "
        f"(data sha256 `{config['data_sha256'][:16]}…`)",
        f"- seed: {spec.seed}; replicates: {ceiling['n_replicates']}",
        _ceiling_line("noise ceiling", ceiling),
        *([_ceiling_line("companion `margin_shift.csv` (mean margin change, continuous) ceiling",
                         result["margin_ceiling"])] if "margin_ceiling" in result else []),
        _time_line(wall, compute, config.get("hardware", "") or "this machine"),
        f"- reproduce: `{reproduce_command(pipe, spec, vs.name)}`",
        "",
        "## Known caveats",
        pipe.text["caveats"],
        _main_effects_line(result["M"]),
    ]
    lines += result.get("card_lines", [])  # the pipeline's own sections (gates, measures, per-value tables)
    if spec.card_notes:
        lines += ["", "## Recipe history", *[f"- {note}" for note in spec.card_notes]]
    if "timing" in result and "cost" in pipe.text:
        lines += ["", "## Cost", pipe.text["cost"].format(**result["timing"])]
    return "\n".join(lines)


def reproduce_command(pipe, spec, value_set: str) -> str:
    """The CLI line that recreates this task, with every setting that differs from the CLI's defaults."""
    parts = [f"valuebench groundtruth {spec.kind} --value-set {value_set} --model {spec.model} --seed {spec.seed}",
             *pipe.reproduce_flags(spec)]
    if spec.values:
        parts.append(f"--values {','.join(spec.values)}")
    parts += [f"--{k.replace('_', '-')} {getattr(spec, k)}" for k in ("max_holdout", "max_train")
              if getattr(spec, k) is not None]
    if spec.task_version != "1.0.0":
        parts.append(f"--task-version {spec.task_version}")
    return " ".join(parts)


def _ceiling_line(label: str, c: dict) -> str:
    spread = f", sd {c['sd']} across splits" if c.get("sd") is not None else ""
    sb = c["spearman_brown"] if c["spearman_brown"] is not None else "undefined (ceiling <= 0)"
    return f"- {label}: **{c['value']}** ({c['method']}{spread}); Spearman-Brown for the full matrix: {sb}"


def _time_line(wall: float, compute: tuple, hardware: str) -> str:
    total, units, untimed, estimated = compute
    if untimed == 0:
        how = (f" ({estimated} of them apportioned from whole-run wall times measured before per-unit timing)"
               if estimated else "")
        return f"- compute time: {total / 60:.1f} min summed over {units} work units{how}, on {hardware}"
    return (f"- wall time of the final run: {wall / 60:.1f} min on {hardware}; {untimed} of {units} work units were "
            "computed by earlier runs before per-unit timing was recorded, so the total is higher")


def _main_effects_line(m) -> str:
    from valuebench.ceilings import antisymmetric_share, main_effects_r2

    return main_effects_text(main_effects_r2(m), antisymmetric_share(m))


def main_effects_text(r2: float | None, anti: float | None) -> str:
    """What a cosine can and cannot reach, stated correctly (the first cards said main effects were out of reach:
    their symmetric part g_i + g_j is not, a shared axis such as statement length expresses it)."""
    if r2 is None:
        head = "- Main effects: undefined (constant or too few cells)."
    else:
        head = (f"- Row and column main effects (how strong an intervention on value i is overall, how movable value "
                f"j is overall) explain {r2:.0%} of the variance of the scored cells. Their symmetric part (g_i + g_j) "
                "*is* expressible by cosine similarities: a shared axis, such as statement length, does exactly that, "
                "which is why the validity gate runs surface baselines.")
    if anti is None:
        return head
    if anti == 0:
        return head + " The matrix is symmetric, so a cosine can in principle reach all of it."
    return head + (f" Only the antisymmetric part (M - M^T)/2, {anti:.0%} of the variance, is out of reach of any "
                   "symmetric similarity.")


#: Hugging Face's license id
LICENSE = "apache-2.0"
TYPE_TITLES = {"dpo-generalization": "DPO generalization", "sft-generalization": "SFT generalization",
               "prompt-steering": "Prompt steering",
               "judge-agreement": "Judge agreement", "judge-separation": "Judge separation"}
def pretty_name(task_type: str, model: str, value_set: str) -> str:
    """A whole title (the first cards cut the description at 60 characters, mid-word)."""
    title = TYPE_TITLES.get(task_type, task_type.replace("-", " ").capitalize())
    return f"{title}: {model.split('/')[-1].replace('embedded:', '')} on {value_set}"


def independent_estimate(pipe, ceiling: dict) -> dict:
    """The independent ceiling a pipeline's own replicates give: the split-half value when its replicates are
    independent by construction, none (with the pipeline's reason) otherwise (judges, whose question is fixed)."""
    from valuebench.ceilings import estimate

    if pipe.not_independent is None:
        return estimate(ceiling.get("value"), f"{ceiling.get('method', '')} (replicates independent by construction)",
                        sd=ceiling.get("sd"), n_splits=ceiling.get("n_splits"))
    return estimate(None, "", reason=pipe.not_independent)


def _num(x, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _est(e) -> str:
    if e.value is None:
        return f"none ({e.reason})" if e.reason else "none"
    spread = f" ± {e.sd:.2f} (sd over {e.n_splits} splits)" if e.sd is not None and e.n_splits else ""
    return f"{e.value:.2f}{spread}"


def ceilings_section(c) -> list[str]:
    """The card's "Ceilings" section (``c``: ``tasks.Ceilings``)."""
    return [
        "## Ceilings",
        "",
        "| ceiling | value | what it is |",
        "|---|---|---|",
        f"| split-half | {_est(c.split_half)} | agreement of the published replicates ({c.split_half.how}) |",
        f"| independent | {_est(c.independent)} | agreement of replicates sharing no training data, evaluation "
        f"scenarios or base-rate estimate{': ' + c.independent.how if c.independent.how else ''} |",
        f"| reliability | {_num(c.reliability)} | Spearman-Brown of the split-half to the {c.n_replicates} replicates "
        "averaged into the published matrix |",
        f"| bound | {_num(c.bound)} | √reliability: what a perfect predictor of the pipeline's true matrix reaches "
        "against the published one; **normalized = ρ / bound** |",
        f"| symmetric bound | {_est(c.symmetric_bound)} | (R + Rᵀ)/2 of one replicate scored against another: what "
        "any cosine can reach, cross-validated |",
        f"| main-effects R² | {_num(c.main_effects_r2)} | variance explained by row + column effects (their "
        "symmetric part is reachable by cosines) |",
        f"| antisymmetric share | {_num(c.antisymmetric_share)} | variance in (M − Mᵀ)/2, out of reach of any "
        "symmetric similarity |",
    ]


def validity_section(v, c, name: str, notes: list[str] = ()) -> list[str]:
    """The card's "Validity" section: the gate's verdict, its criteria and its numbers (``v``: ``tasks.Validity``)."""
    from valuebench.ceilings import BASELINE_FRACTION, SIGNIFICANCE

    head = ("**Gate: PASS: in the default benchmark.**" if v.verdict == "pass" else
            "**Gate: FAIL: not in the default benchmark** (kept for the record; `valuebench evaluate --tasks "
            f"{name}` still scores it).")
    which = {"independent": "independent", "split_half": "split-half (no independent replicate exists)"}.get(
        v.ceiling_used or "", "none")
    lines = [
        "## Validity",
        "",
        head,
        "",
        f"A task is in the default benchmark only if (1) replicates that share no training data, no evaluation "
        f"scenarios and no base-rate estimate agree at ρ ≥ {v.min_ceiling}, and (2) every surface baseline and "
        f"`random` fails on it: permutation p ≥ {SIGNIFICANCE} and ρ < {BASELINE_FRACTION:g} × bound "
        f"({_num(None if c.bound is None else BASELINE_FRACTION * c.bound, 3)}). Re-evaluate with "
        f"`valuebench task gate {name}` (`--write` rewrites this card).",
        "",
        f"- ceiling used: {which} = {_num(v.ceiling_value, 4)} (needs ≥ {v.min_ceiling})",
        *notes,
        f"- random-vector null, 95th percentile of ρ: {_num(v.random_null_p95, 3)}",
        "",
        f"| baseline (statement text only) | ρ | p ({v.n_permutations} permutations) | passes |",
        "|---|---|---|---|",
        *[f"| `{b.method}` | {_num(b.spearman, 3)} | {_num(b.p_value, 3)} | {'yes' if b.passed else '**no**'} |"
          for b in v.baselines],
    ]
    if v.reasons:
        lines += ["", "Why it fails:", *[f"- {r}" for r in v.reasons]]
    return lines


_MANAGED = ("## Ceilings", "## Validity")


def rewrite_body(body: str, c, v, name: str, notes: list[str] = ()) -> str:
    """A card body with the Ceilings and Validity sections (re)written and the old text that contradicts them
    (the below-0.3 warning, "similarity cannot predict main effects") replaced."""
    out, skip = [], False
    for line in body.strip().splitlines():
        if line.startswith("## "):
            skip = line.strip() in _MANAGED
        if skip:
            continue
        if line.startswith("- **Noise ceiling") and "is below" in line:
            continue  # the gate's verdict replaces it
        if line.startswith("- noise ceiling: **") or line.startswith("- noise ceiling (split-half): **"):
            line = (f"- noise ceiling (split-half): **{c.split_half.value}** ({c.split_half.how}); Spearman-Brown for "
                    f"the full matrix: {c.reliability} (see Ceilings below)")
        if line.startswith("- Row and column main effects") or line.startswith("- Main effects: undefined"):
            line = main_effects_text(c.main_effects_r2, c.antisymmetric_share)
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    at = next((k for k, line in enumerate(out) if line.strip() == "## Known caveats"), len(out))
    block = [*ceilings_section(c), "", *validity_section(v, c, name, notes), ""]
    if at == len(out):
        block = ["", *block[:-1]]
    return "\n".join(out[:at] + block + out[at:]).strip() + "\n"


def extra_files(result: dict, value_ids: list[str]) -> dict[str, str]:
    """Companion data kept beside the matrix: raw rates, the continuous margin shift, training logs."""
    out = {}
    for key, name in (("a", "rates.csv"), ("margin_shift", "margin_shift.csv")):
        if key in result:
            out[name] = matrix_frame(result[key], value_ids).to_csv(float_format="%.6g")
    for name, mat in result.get("companions", {}).items():  # e.g. {"sigmoid_shift.csv": matrix}
        out[name] = matrix_frame(mat, value_ids).to_csv(float_format="%.6g")
    if "logs" in result:
        out["train_logs.json"] = json.dumps(result["logs"], indent=1)
    return out
