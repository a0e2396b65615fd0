"""vLLM platform plugin: the oracle runs vLLM on the CPU platform."""


def register() -> str:
    return "vllm.platforms.cpu.CpuPlatform"
