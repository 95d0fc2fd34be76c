"""The language-model runtime: loading (embedded SmolLM2 by default), hooked activations, log-probs, generation.

Everything here batches with left padding and explicit position ids, so a batched call returns what
one-at-a-time calls would (the tests check it).
"""

from valuebench.lm.loading import EMBEDDED_DEFAULT, LM, load_lm, tiny_llama

__all__ = ["EMBEDDED_DEFAULT", "LM", "load_lm", "tiny_llama", "response_logprobs", "response_activations",
           "generate", "Steering"]


def __getattr__(name):  # lazy: importing valuebench.lm must stay cheap
    if name == "response_logprobs":
        from valuebench.lm.logprobs import response_logprobs
        return response_logprobs
    if name == "response_activations":
        from valuebench.lm.activations import response_activations
        return response_activations
    if name == "generate":
        from valuebench.lm.generation import generate
        return generate
    if name == "Steering":
        from valuebench.lm.steering import Steering
        return Steering
    raise AttributeError(name)
