"""Activation extraction and response log-probs on SmolLM2, against straightforward references, same inputs.

Rows:
- hooked extraction vs the published approach (batch size 1, ``output_hidden_states=True``, slice after):
  speed ratio (target >= 5x) and the lowest cosine between the two per value and layer (target >= 0.999);
- extraction tokens/s as a fraction of a bare batched forward pass over the same batches (target >= 0.7);
- peak RSS of a fresh process that loads SmolLM2 and extracts at the default batch size (target < 3 GB);
- ``response_logprobs`` throughput and its speed-up over per-item full-vocabulary scoring;
- ``valuebench represent --method persona-vector --value-set ccai-21`` cold and cached wall time: slow
  (~10 min), so measured only with ``VALUEBENCH_BENCH_CCAI=1`` and otherwise reported from the last
  measurement stored in ``perf/measured/ccai21_persona_vector.json`` (tracked in git).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from valuebench.io import atomic_write_json
from valuebench.lm import load_lm
from valuebench.lm.activations import response_activations
from valuebench.lm.batching import encode_pair, left_pad, length_sorted_batches
from valuebench.lm.logprobs import response_logprobs
from valuebench.paths import cache_dir
from valuebench.scenarios import load_scenarios

LAYERS = [12, 16, 21, 26]  # the persona-vector sweep's candidate layers on SmolLM2 (30 layers)
BATCH = 8  # what the methods use for teacher-forced passes on CPU (LM.forward_batch_size of their default 32)
PER_VALUE = 6
CCAI_FILE = Path(__file__).parent / "measured" / "ccai21_persona_vector.json"  # tracked: slow to re-measure


def _row(name, value, unit, reference=None, ratio=None, target=None, passed=None, note=""):
    return {"name": name, "value": value, "unit": unit, "reference": reference, "ratio": ratio, "target": target,
            "passed": passed, "note": note}


def _inputs():
    scen = [s for s in load_scenarios("constraints-9", split="train")]
    by_value: dict[str, list] = {}
    for s in scen:
        if len(by_value.setdefault(s.value_id, [])) < PER_VALUE:
            by_value[s.value_id].append(s)
    picked = [s for group in by_value.values() for s in group]
    return picked, [s.messages() for s in picked], [s.response_follow for s in picked]


@torch.inference_mode()
def _reference(lm, convs, resps):
    out = []
    for conv, resp in zip(convs, resps):
        p, r = encode_pair(lm.tokenizer, conv, resp)
        hs = lm.model(torch.tensor([p + r]), output_hidden_states=True).hidden_states
        out.append(np.stack([hs[layer + 1][0, len(p):].mean(0).numpy() for layer in LAYERS]))
    return np.stack(out)


@torch.inference_mode()
def _bare_forward(lm, convs, resps):
    pairs = [encode_pair(lm.tokenizer, c, r) for c, r in zip(convs, resps)]
    for idx in length_sorted_batches([len(p) + len(r) for p, r in pairs], BATCH):
        b = left_pad([pairs[i] for i in idx], lm.tokenizer.pad_token_id)
        lm.model(input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids, use_cache=False)


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _cosines_per_value(values, ours, ref):
    worst = 1.0
    for vid in sorted(set(values)):
        rows = [i for i, v in enumerate(values) if v == vid]
        for j in range(len(LAYERS)):
            a, b = ours[rows, j].mean(0), ref[rows, j].mean(0)
            worst = min(worst, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    return worst


def _peak_rss_gb() -> float:
    code = ("import resource, os; os.environ['HF_HUB_OFFLINE']='1';"
            "from perf.bench_extraction import _inputs, LAYERS, BATCH;"
            "from valuebench.lm import load_lm; from valuebench.lm.activations import response_activations;"
            "lm = load_lm(); _, c, r = _inputs(); response_activations(lm, c, r, LAYERS, batch_size=BATCH);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    return int(out.stdout.strip().splitlines()[-1]) / 1024 ** 2  # ru_maxrss is KiB on Linux


def _gflop_per_token(lm, with_head: bool) -> float:
    """2 FLOPs per weight per token (matmuls dominate at these lengths): decoder blocks, plus the LM head."""
    blocks = sum(p.numel() for p in lm.model.model.layers.parameters())
    head = lm.model.get_output_embeddings().weight.numel() if with_head else 0
    return 2 * (blocks + head) / 1e9


def _extraction_rows(lm):
    scen, convs, resps = _inputs()
    n_tokens = sum(sum(map(len, encode_pair(lm.tokenizer, c, r))) for c, r in zip(convs, resps))
    response_activations(lm, convs[:4], resps[:4], LAYERS, batch_size=4)  # warm-up
    ours, t_ours = _timed(response_activations, lm, convs, resps, LAYERS, batch_size=BATCH)
    ref, t_ref = _timed(_reference, lm, convs, resps)
    _, t_bare = _timed(_bare_forward, lm, convs, resps)
    worst = _cosines_per_value([s.value_id for s in scen], ours, ref)
    speed = t_ref / t_ours
    frac = (n_tokens / t_ours) / (n_tokens / t_bare)
    rss = _peak_rss_gb()
    note = (f"{len(convs)} constraints-9 scenarios, {n_tokens} tokens, layers {LAYERS}, batch {BATCH}; "
            f"reference runs at {n_tokens * _gflop_per_token(lm, True) / t_ref:.0f} GFLOP/s (compute-bound)")
    return [
        _row("extraction speed-up vs bs=1 output_hidden_states", round(speed, 2), "x", round(t_ref, 2),
             round(speed, 2), ">= 5", speed >= 5, note + f"; ours {t_ours:.2f}s"),
        _row("extraction min cosine vs reference (per value, layer)", round(worst, 6), "cosine", None, None,
             ">= 0.999", worst >= 0.999, "mean vectors per value over its scenarios"),
        _row("extraction tokens/s vs bare batched forward", round(n_tokens / t_ours), "tok/s",
             round(n_tokens / t_bare), round(frac, 2), ">= 0.7", frac >= 0.7,
             "bare = full CausalLM forward, same batches; ours skips the LM head and layers after the deepest"),
        _row(f"extraction peak RSS (fresh process, SmolLM2, batch {BATCH})", round(rss, 2), "GB", None, None, "< 3",
             rss < 3, "ru_maxrss of a subprocess that loads the model and extracts"),
    ]


@torch.inference_mode()
def _naive_logprobs(lm, convs, resps):
    out = []
    for conv, resp in zip(convs, resps):
        p, r = encode_pair(lm.tokenizer, conv, resp)
        lp = torch.log_softmax(lm.model(torch.tensor([p + r])).logits[0].float(), -1)
        out.append(lp[torch.arange(len(p) - 1, len(p) + len(r) - 1), torch.tensor(r)].mean().item())
    return np.array(out)


def _logprob_rows(lm):
    scen, convs, _ = _inputs()
    convs2 = [c for c in convs for _ in (0, 1)]
    resps2 = [x for s in scen for x in (s.response_follow, s.response_violate)]
    n_tokens = sum(sum(map(len, encode_pair(lm.tokenizer, c, r))) for c, r in zip(convs2, resps2))
    ours, t_ours = _timed(response_logprobs, lm, convs2, resps2, batch_size=BATCH)
    ref, t_ref = _timed(_naive_logprobs, lm, convs2, resps2)
    diff = float(np.abs(ours - ref).max())
    return [
        _row("response_logprobs throughput", round(len(resps2) / t_ours, 1), "pairs/s", None, None, None, None,
             f"{len(resps2)} (conversation, response) pairs, {n_tokens / t_ours:.0f} tok/s, batch {BATCH}"),
        _row("response_logprobs speed-up vs per-item full-vocab scoring", round(t_ref / t_ours, 2), "x",
             round(t_ref, 2), round(t_ref / t_ours, 2), None, None, f"max |diff| {diff:.1e} nats"),
    ]


def measure_ccai21() -> dict:
    """Cold and cached wall time of the CLI in a fresh representation cache (models shared, not reconverted)."""
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(cache_dir() / "models", Path(tmp) / "models")
        env = {**os.environ, "VALUEBENCH_CACHE": tmp, "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "valuebench.cli", "represent", "--method", "persona-vector", "--value-set",
               "ccai-21", "--output", str(Path(tmp) / "out.safetensors")]
        times = []
        for _ in range(2):
            start = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=Path(__file__).parent.parent)
            times.append(time.perf_counter() - start)
    result = {"cold_s": round(times[0], 1), "cached_s": round(times[1], 2),
              "date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count()}
    atomic_write_json(CCAI_FILE, result)
    return result


def _ccai_rows():
    if os.environ.get("VALUEBENCH_BENCH_CCAI") == "1":
        data, how = measure_ccai21(), "measured in this run"
    elif CCAI_FILE.is_file():
        data = json.loads(CCAI_FILE.read_text())
        how = f"stored measurement from {data.get('date')} (VALUEBENCH_BENCH_CCAI=1 re-measures)"
    else:
        return []
    return [_row("represent persona-vector ccai-21, cold", data["cold_s"], "s", None, None, "< 900",
                 data["cold_s"] < 900, how),
            _row("represent persona-vector ccai-21, cached", data["cached_s"], "s", None, None, "< 5",
                 data["cached_s"] < 5, how)]


def run() -> list[dict]:
    torch.manual_seed(0)
    lm = load_lm()
    return _extraction_rows(lm) + _logprob_rows(lm) + _ccai_rows()
