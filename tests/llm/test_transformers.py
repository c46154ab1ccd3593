"""The Hugging Face adapter, offline: a tiny random GPT-2 and a character tokenizer built here."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be downloaded

import jax
import numpy as np
import pytest
import torch
import transformers

from probkit import llm

CHARS = list("ab \n{}\\boxed")


@pytest.fixture(scope="module")
def tiny():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2}
    for c in CHARS:
        vocab.setdefault(c, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(vocab),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=1,
        eos_token_id=1,
        pad_token_id=0,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    return model, tok, vocab


def _lm(tiny, **kw):
    model, tok, _ = tiny
    kw.setdefault("temperature", 1.0)
    return llm.TransformersLM(model, tok, **kw)


def test_stop_strings_end_a_step(tiny):
    vocab = tiny[2]
    # Make newlines likely and end-of-sequence impossible, so steps end at "\n\n".
    gen = {
        "sequence_bias": {(vocab["\n"],): 4.0},
        "suppress_tokens": [vocab[t] for t in ("<eos>", "<pad>", "<unk>")],
    }
    lm = _lm(tiny, max_tokens_per_step=60, generate_kwargs=gen)
    steps = lm.extend("ab", [(), ("ab",), ("a", "b")], seeds=[0, 1, 2])
    for s in steps:
        assert "\n\n" not in s.text and not s.finished
        assert s.num_tokens == len(s.text) + 2  # the text plus the two-character stop
        assert s.log_prob < 0 and np.isfinite(s.log_prob)
    again = lm.extend("ab", [(), ("ab",), ("a", "b")], seeds=[0, 1, 2])
    assert [s.text for s in again] == [s.text for s in steps]  # seeded


def test_max_tokens_and_end_of_sequence(tiny):
    vocab = tiny[2]
    no_stop = {"suppress_tokens": [vocab[t] for t in ("\n", "<eos>", "<pad>", "<unk>")]}
    (step,) = _lm(tiny, max_tokens_per_step=7, generate_kwargs=no_stop).extend("a", [()], seeds=[0])
    assert step.num_tokens == 7 and len(step.text) == 7 and not step.finished
    eos = {"sequence_bias": {(vocab["<eos>"],): 20.0}}
    (step,) = _lm(tiny, generate_kwargs=eos).extend("a", [("b",)], seeds=[0])
    assert step.finished and step.text == "" and step.num_tokens == 1
    fixed = _lm(tiny, tokens_per_step=3, generate_kwargs=no_stop)
    steps = fixed.extend("a", [(), ("abc",)], seeds=[0, 1])
    assert [s.num_tokens for s in steps] == [3, 3] and fixed.separator == ""
    boxed = {
        "sequence_bias": {(vocab["\\"],): 3.0, (vocab["b"],): 3.0},
        "suppress_tokens": [vocab["<eos>"], vocab["\n"]],
    }
    lm = _lm(tiny, max_tokens_per_step=40, answer_marker="\\b", generate_kwargs=boxed)
    assert all(s.finished == ("\\b" in s.text) for s in lm.extend("a", [()] * 4, seeds=[0] * 4))


def test_chat_template_continues_the_assistant_message(tiny):
    model, tok, _ = tiny
    tok.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}"
        "{% if not loop.last %}{{ '|' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '|<assistant>' }}{% endif %}"
    )
    try:
        lm = llm.TransformersLM(model, tok)
        assert lm._text("q", ()) == "<user>q|<assistant>"
        assert lm._text("q", ("s1", "s2")) == "<user>q|<assistant>s1\n\ns2\n\n"
    finally:
        tok.chat_template = None


@pytest.mark.filterwarnings("ignore:particle_filter.*reached max_steps:RuntimeWarning")
def test_particle_filter_generates_steps_with_the_tiny_model(tiny):
    vocab = tiny[2]
    gen = {"sequence_bias": {(vocab["\n"],): 3.0}}
    lm = _lm(tiny, max_tokens_per_step=24, generate_kwargs=gen, batch_size=3)
    prm = llm.OutcomeRewardModel(lambda q, rs: [0.2 + 0.6 * (r.count("a") % 2) for r in rs])
    res = llm.particle_filter(jax.random.key(0), lm, prm, "ab", 4, weighting="twisted", max_steps=3)
    assert isinstance(res.response, str) and int(res.budget.steps) >= 4
    assert int(res.budget.tokens) > 0 and np.isfinite(float(res.log_evidence))
    with pytest.raises(ValueError, match="batch_size"):
        _lm(tiny, batch_size=0)
