#!/usr/bin/env python3
"""Oracle for checkpoint IO: tiny random CLIP text encoders built and run by
transformers, for tests/test_checkpoint.c.

    python3 tests/oracle/checkpoint_oracle.py generate
        Writes tests/fixtures/checkpoint/ (see FIXTURES below): each model
        saved with save_pretrained, an OpenAI-layout copy of one, and per
        model an oracle.safetensors with token batches, their end-of-text
        positions, the embeddings, and the gradient of
            loss = sum(E * W)       (E the (B, P) embeddings, W fixed)
        with respect to every parameter. Embeddings and gradients are
        computed in float64 from the float32 weights that were saved, so
        they are the exact values up to float64 rounding. .safetensors
        files are gzip-compressed.

    python3 tests/oracle/checkpoint_oracle.py verify [BUILD]
        Runs BUILD/examples/convert (default build/) on the fixtures, so
        libclipt loads each checkpoint and saves it again, then loads every
        saved directory with transformers and compares its outputs and
        weights with the originals. Prints one line per check and exits
        non-zero on a failure.

Needs torch, transformers and safetensors (tested with torch 2.15,
transformers 5.25, safetensors 0.8).
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import (CLIPConfig, CLIPModel, CLIPTextConfig,
                          CLIPTextModelWithProjection)
from transformers.utils import logging as hf_logging

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "checkpoint")
FORMAT = "clipt-checkpoint-oracle 1"

# vocab49408: the full CLIP vocabulary with small odd sizes elsewhere
# (3 heads of 4, MLP 20, projection 10 != width). The token embedding is
# rounded to bfloat16 values (still stored as F32) so the fixture compresses.
# legacy_gelu: exact GELU, layer_norm_eps 1e-6 and eos_token_id 2, the old
# configuration convention under which transformers pools at the largest id.
CONFIGS = {
    "vocab49408": dict(vocab_size=49408, hidden_size=12, intermediate_size=20,
                       projection_dim=10, num_hidden_layers=2,
                       num_attention_heads=3, max_position_embeddings=77,
                       hidden_act="quick_gelu"),
    "legacy_gelu": dict(vocab_size=1000, hidden_size=36, intermediate_size=52,
                        projection_dim=20, num_hidden_layers=2,
                        num_attention_heads=3, max_position_embeddings=16,
                        hidden_act="gelu", layer_norm_eps=1e-6,
                        bos_token_id=998, eos_token_id=2, pad_token_id=1),
}
CLIP_TEXT = dict(vocab_size=1000, hidden_size=24, intermediate_size=40,
                 num_hidden_layers=1, num_attention_heads=2,
                 max_position_embeddings=16, bos_token_id=998,
                 eos_token_id=999, pad_token_id=1)
CLIP_VISION = dict(hidden_size=16, intermediate_size=24, num_hidden_layers=1,
                   num_attention_heads=2, image_size=8, patch_size=4)


def randomize(model, gen):
    """Replaces every parameter (biases and LayerNorms included, so a mixed
    up mapping cannot hide behind zeros and ones) with seeded values."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "layernorm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 2 and "embedding" not in name:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))


def token_rows(gen, lengths, T, vocab, bos, eot, pads):
    """Rows of bos, random content ids below bos, eot, then the pad ids."""
    ids = torch.zeros(len(lengths), T, dtype=torch.int32)
    for b, (n, pad) in enumerate(zip(lengths, pads)):
        ids[b, :] = pad
        ids[b, 0] = bos
        ids[b, 1:n - 1] = torch.randint(0, min(bos, vocab - 2), (n - 2,), generator=gen)
        ids[b, n - 1] = eot
    return ids


def hf_eot(ids, eos_token_id):
    """End-of-text positions by transformers' rule (modeling_clip.py)."""
    if eos_token_id == 2:
        return ids.argmax(dim=-1).to(torch.int32)
    return (ids == eos_token_id).int().argmax(dim=-1).to(torch.int32)


def batches_for(name, cfg, gen):
    V, T, bos = cfg.vocab_size, cfg.max_position_embeddings, cfg.bos_token_id
    eot = V - 1
    if name == "vocab49408":
        # HF pads with the end-of-text id, OpenAI with 0: both appear
        return [token_rows(gen, [2, 6, 31, 77], 77, V, bos, eot, [eot, eot, 0, 0]),
                token_rows(gen, [7, 4, 3], 7, V, bos, eot, [0, eot, 0])]
    return [token_rows(gen, [16, 5, 10, 2, 13], T, V, bos, eot, [0] * 5),
            token_rows(gen, [3, 2], 3, V, bos, eot, [0, 0])]


def oracle_tensors(model64, text_fn, batches, eos_token_id, gen, with_grads):
    """Embeddings and gradients of sum(E * W) for each batch, in float64."""
    out = {}
    for i, ids in enumerate(batches):
        eot = hf_eot(ids, eos_token_id)
        model64.zero_grad()
        E = text_fn(ids.long())
        W = torch.randn(E.shape, generator=gen, dtype=torch.float64)
        out["batch%d.ids" % i] = ids
        out["batch%d.eot" % i] = eot
        out["batch%d.embeddings" % i] = E.detach().float()
        if with_grads:
            (E * W).sum().backward()
            out["batch%d.dE" % i] = W.float()
            for pname, p in model64.named_parameters():
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                out["batch%d.grad.%s" % (i, pname)] = g.float()
    return out


def gzip_file(path):
    with open(path, "rb") as f, gzip.GzipFile(path + ".gz", "wb", mtime=0) as g:
        shutil.copyfileobj(f, g)
    os.remove(path)


def save_oracle(tensors, path):
    save_file({k: v.contiguous() for k, v in tensors.items()}, path,
              metadata={"format": "pt", "fixture": FORMAT})
    gzip_file(path)


def openai_state_dict(model):
    """The OpenAI/open_clip names of a CLIPTextModelWithProjection."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = {"token_embedding.weight": sd["text_model.embeddings.token_embedding.weight"],
           "positional_embedding": sd["text_model.embeddings.position_embedding.weight"],
           "ln_final.weight": sd["text_model.final_layer_norm.weight"],
           "ln_final.bias": sd["text_model.final_layer_norm.bias"],
           "text_projection": sd["text_projection.weight"].t().contiguous(),
           "logit_scale": torch.tensor(2.6592)}
    names = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc",
             "mlp.fc2": "mlp.c_proj", "self_attn.out_proj": "attn.out_proj"}
    for l in range(model.config.num_hidden_layers):
        hf, oa = "text_model.encoder.layers.%d." % l, "transformer.resblocks.%d." % l
        for kind in ("weight", "bias"):
            out[oa + "attn.in_proj_" + kind] = torch.cat(
                [sd[hf + "self_attn.%s_proj.%s" % (x, kind)] for x in "qkv"])
            for h, o in names.items():
                out[oa + o + "." + kind] = sd[hf + h + "." + kind]
    return out


def generate():
    if os.path.isdir(FIXTURES):
        shutil.rmtree(FIXTURES)
    gen = torch.Generator().manual_seed(20240531)
    for name, kw in CONFIGS.items():
        cfg = CLIPTextConfig(**kw)
        model = CLIPTextModelWithProjection(cfg).eval()
        randomize(model, gen)
        if name == "vocab49408":
            with torch.no_grad():
                w = model.text_model.embeddings.token_embedding.weight
                w.copy_(w.bfloat16().float())
        d = os.path.join(FIXTURES, name)
        model.save_pretrained(d)
        m64 = CLIPTextModelWithProjection(cfg).double().eval()
        m64.load_state_dict(model.state_dict())
        tensors = oracle_tensors(m64, lambda ids: m64(input_ids=ids).text_embeds,
                                 batches_for(name, cfg, gen), cfg.eos_token_id,
                                 gen, True)
        save_oracle(tensors, os.path.join(d, "oracle.safetensors"))
        gzip_file(os.path.join(d, "model.safetensors"))
        if name == "legacy_gelu":
            # OpenAI layout; open_clip's config supplies the head count
            # that width / 64 cannot give, and selects exact GELU
            od = os.path.join(FIXTURES, name + "_openai")
            os.makedirs(od)
            save_file(openai_state_dict(model),
                      os.path.join(od, "open_clip_model.safetensors"),
                      metadata={"format": "pt"})
            gzip_file(os.path.join(od, "open_clip_model.safetensors"))
            with open(os.path.join(od, "open_clip_config.json"), "w") as f:
                json.dump({"model_cfg": {
                    "embed_dim": cfg.projection_dim, "quick_gelu": False,
                    "text_cfg": {"context_length": cfg.max_position_embeddings,
                                 "vocab_size": cfg.vocab_size,
                                 "width": cfg.hidden_size,
                                 "heads": cfg.num_attention_heads,
                                 "layers": cfg.num_hidden_layers,
                                 "mlp_ratio": cfg.intermediate_size / cfg.hidden_size,
                                 "norm_kwargs": {"eps": cfg.layer_norm_eps}}}},
                    f, indent=2)

    # a full CLIPModel, whose vision tower a CLIPModel save must keep
    cfg = CLIPConfig(text_config=CLIP_TEXT, vision_config=CLIP_VISION,
                     projection_dim=10)
    model = CLIPModel(cfg).eval()
    randomize(model, gen)
    d = os.path.join(FIXTURES, "clip_model")
    model.save_pretrained(d)
    m64 = CLIPModel(cfg).double().eval()
    m64.load_state_dict(model.state_dict())
    ids = token_rows(gen, [16, 4, 9], 16, 1000, 998, 999, [999, 0, 0])
    # transformers 5 returns the projected features as pooler_output
    tensors = oracle_tensors(m64, lambda x: m64.get_text_features(input_ids=x).pooler_output,
                             [ids], 999, gen, False)
    save_oracle(tensors, os.path.join(d, "oracle.safetensors"))
    gzip_file(os.path.join(d, "model.safetensors"))
    print("wrote", FIXTURES)
    for root, _, files in os.walk(FIXTURES):
        for f in sorted(files):
            p = os.path.join(root, f)
            print("  %-60s %9d bytes" % (os.path.relpath(p, ROOT), os.path.getsize(p)))


# ---------------------------------------------------------------------------
# verify: libclipt's saved directories, read back by transformers
# ---------------------------------------------------------------------------

def unpacked(name, tmp):
    """A copy of a fixture directory with its .gz files expanded."""
    src, dst = os.path.join(FIXTURES, name), os.path.join(tmp, "src-" + name)
    if os.path.isdir(dst):
        return dst
    os.makedirs(dst)
    for f in os.listdir(src):
        if f.endswith(".gz"):
            with gzip.open(os.path.join(src, f)) as g, open(os.path.join(dst, f[:-3]), "wb") as o:
                shutil.copyfileobj(g, o)
        else:
            shutil.copy(os.path.join(src, f), dst)
    return dst


class Checks:
    def __init__(self):
        self.failed = 0

    def report(self, ok, text):
        print("%s  %s" % ("ok  " if ok else "FAIL", text))
        self.failed += not ok


def rel_err(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def check_bytes_canonical(checks, path):
    """Our file must equal safetensors' own serialization of its tensors."""
    tensors = load_file(path)
    ref = path + ".ref"
    save_file(tensors, ref, metadata={"format": "pt"})
    same = open(path, "rb").read() == open(ref, "rb").read()
    os.remove(ref)
    checks.report(same, "%s is byte-identical to safetensors.torch.save_file"
                  % os.path.basename(os.path.dirname(path)))


def verify(build):
    convert = os.path.join(build, "examples", "convert")
    checks = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        def run(src, dst, *args):
            subprocess.run([convert, src, dst, *args], check=True)
            return dst

        for name, source in (("vocab49408", "vocab49408"),
                             ("legacy_gelu", "legacy_gelu"),
                             ("legacy_gelu", "legacy_gelu_openai")):
            ref_dir = unpacked(name, tmp)
            src_dir = ref_dir if source == name else unpacked(source, tmp)
            ref = CLIPTextModelWithProjection.from_pretrained(ref_dir, dtype=torch.float32).eval()
            oracle = load_file(os.path.join(ref_dir, "oracle.safetensors"))
            for dtype in ("f32", "f16", "bf16"):
                out = run(src_dir, os.path.join(tmp, "%s-%s" % (source, dtype)), "--dtype", dtype)
                check_bytes_canonical(checks, os.path.join(out, "model.safetensors"))
                ours = CLIPTextModelWithProjection.from_pretrained(out, dtype=torch.float32).eval()
                torch_dtype = {"f32": torch.float32, "f16": torch.float16,
                               "bf16": torch.bfloat16}[dtype]
                sd_ref, sd_ours = ref.state_dict(), ours.state_dict()
                same = all(torch.equal(sd_ref[k].to(torch_dtype).float(), sd_ours[k])
                           for k in sd_ref)
                checks.report(same, "%s saved as %s: every weight equals torch's "
                              "%s rounding of the original" % (source, dtype, torch_dtype))
                for i in range(2):
                    ids = oracle["batch%d.ids" % i].long()
                    with torch.no_grad():
                        E = ours(input_ids=ids).text_embeds
                    err = rel_err(E, oracle["batch%d.embeddings" % i])
                    bound = 1e-5 if dtype == "f32" else 2e-2
                    checks.report(err <= bound, "%s saved as %s, batch %d: transformers "
                                  "embeddings max rel err %.2e (bound %.0e)"
                                  % (source, dtype, i, err, bound))

        src = unpacked("clip_model", tmp)
        out = run(src, os.path.join(tmp, "clip-full"), "--format", "clip")
        check_bytes_canonical(checks, os.path.join(out, "model.safetensors"))
        ref = CLIPModel.from_pretrained(src, dtype=torch.float32).eval()
        ours = CLIPModel.from_pretrained(out, dtype=torch.float32).eval()
        sd_ref, sd_ours = ref.state_dict(), ours.state_dict()
        checks.report(sd_ref.keys() == sd_ours.keys() and
                      all(torch.equal(sd_ref[k], sd_ours[k]) for k in sd_ref),
                      "CLIPModel saved in full: every tensor, vision tower and "
                      "logit_scale included, is bit-identical")
        gen = torch.Generator().manual_seed(7)
        pixels = torch.randn(2, 3, 8, 8, generator=gen)
        ids = load_file(os.path.join(src, "oracle.safetensors"))["batch0.ids"].long()
        with torch.no_grad():
            a = ref(input_ids=ids, pixel_values=pixels).logits_per_image
            b = ours(input_ids=ids, pixel_values=pixels).logits_per_image
        checks.report(torch.equal(a, b), "CLIPModel saved in full: logits_per_image "
                      "equal the original's (max diff %.2e)" % float((a - b).abs().max()))
    print("verify: %d failed" % checks.failed)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "generate":
        generate()
    elif len(sys.argv) >= 2 and sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build")))
    else:
        print(__doc__)
        sys.exit(2)
