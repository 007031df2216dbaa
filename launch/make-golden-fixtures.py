#!/usr/bin/env python3
"""Write the PyTorch golden fixtures that GoldenFixtureTests checks ddplm against (no PyTorch needed in CI).

    /path/to/venv/bin/python launch/make-golden-fixtures.py      (needs torch, numpy, safetensors)

For each of three tiny configs (lstm2: LSTM V=11 E=6 H=5 L=2 untied; gru1: GRU V=11 E=5 H=5 L=1;
rnn_tanh_tied: RNN_TANH V=11 E=5 H=5 L=2 tied) it builds PyTorch's word_language_model RNNModel (as in
launch/pytorch-eval.py, dropout 0, float32), perturbs every parameter by randn*0.1, and writes
Tests/DDPLMTests/Fixtures/golden_<name>.safetensors, every tensor F32:
  <state_dict name>        the weights (a tied decoder.weight is written too, equal to encoder.weight)
  input.x, input.y         [T, B] token ids (time-major), as floats
  state.h0, state.c0       [L, B, H] initial state (c0 for LSTM only), randn*0.5
  expected.loss            [1] mean cross-entropy over T*B positions
  expected.hT, expected.cT [L, B, H] final state returned by the rnn
  grad.<name>              gradient of the mean loss (tied: grad.decoder.weight = grad.encoder.weight)
  step2.<name>             weights after two steps of (zero_grad, forward from h0, mean CE, backward,
                           clip_grad_norm_(0.05), Adam(lr=0.01)) on the same batch
  expected.gradnorm1/2     [1] the norms clip_grad_norm_ returned at steps 1 and 2
  adam.exp_avg_sq.<name>   Adam's second moment after step 2
  adam.exp_avg.<name>      Adam's first moment after step 2 (the clipped gradients' average: this is
                           what proves the clip coefficient, as the step itself barely depends on it)
Metadata: cell, ntoken, ninp, nhid, nlayers, tie_weights, batch, bptt, lr, clip, torch_version.
Deterministic: rerunning with the same torch version gives the same bytes."""
import collections
import json
import os
import struct
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

B, T, LR, CLIP = 3, 4, 0.01, 0.05
CONFIGS = [
    # name, rnn_type, ntoken, ninp, nhid, nlayers, tie_weights
    ("lstm2", "LSTM", 11, 6, 5, 2, False),
    ("gru1", "GRU", 11, 5, 5, 1, False),
    ("rnn_tanh_tied", "RNN_TANH", 11, 5, 5, 2, True),
]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DDPLMTests", "Fixtures")


class RNNModel(nn.Module):
    """word_language_model's RNNModel (dropout 0)."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, tie_weights=False):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type == "RNN_TANH":
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity="tanh")
        else:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.encoder(x), hidden)
        return self.decoder(out), hidden


def loss_of(model, x, y, hidden, ntoken):
    logits, h = model(x, hidden)
    return F.cross_entropy(logits.view(-1, ntoken), y.view(-1)), h


def sort_metadata(path):
    """save_file writes __metadata__ in hash-map order, which changes from run to run: rewrite the header
    with the metadata keys sorted (same JSON, same length, same tensor entries) so the bytes are stable."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n), object_pairs_hook=collections.OrderedDict)
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":")).encode()
        assert len(text) <= n
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def make(index, name, rnn_type, ntoken, ninp, nhid, nlayers, tie):
    torch.manual_seed(1234 + index)
    model = RNNModel(rnn_type, ntoken, ninp, nhid, nlayers, tie).float()
    with torch.no_grad():
        for p in model.parameters():            # unique parameters: the tied weight once
            p.add_(torch.randn_like(p) * 0.1)
    lstm = rnn_type == "LSTM"
    x = torch.randint(0, ntoken, (T, B))
    y = torch.randint(0, ntoken, (T, B))
    h0 = torch.randn(nlayers, B, nhid) * 0.5
    c0 = torch.randn(nlayers, B, nhid) * 0.5 if lstm else None
    hidden = lambda: (h0.clone(), c0.clone()) if lstm else h0.clone()

    out = {}
    state = model.state_dict()
    for k, v in state.items():
        out[k] = v.detach().clone().float()
    out["input.x"] = x.float()
    out["input.y"] = y.float()
    out["state.h0"] = h0.clone()
    if lstm:
        out["state.c0"] = c0.clone()

    # one forward/backward: loss, final state, gradients of the mean
    model.zero_grad(set_to_none=True)
    loss, hT = loss_of(model, x, y, hidden(), ntoken)
    loss.backward()
    out["expected.loss"] = loss.detach().reshape(1).clone()
    if lstm:
        out["expected.hT"] = hT[0].detach().clone()
        out["expected.cT"] = hT[1].detach().clone()
    else:
        out["expected.hT"] = hT.detach().clone()
    params = dict(model.named_parameters(remove_duplicate=False))
    for k in state:
        out["grad." + k] = params[k].grad.detach().clone()

    # two optimisation steps on the same batch from the same (detached) h0
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for step in (1, 2):
        opt.zero_grad(set_to_none=True)
        loss, _ = loss_of(model, x, y, hidden(), ntoken)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        out[f"expected.gradnorm{step}"] = norm.detach().reshape(1).float().clone()
    for k, v in model.state_dict().items():
        out["step2." + k] = v.detach().clone().float()
        # Adam is nearly invariant to a constant gradient scale, so step2 alone barely sees the clip
        # coefficient; the first moment (a lerp of the clipped gradients) does.
        out["adam.exp_avg." + k] = opt.state[params[k]]["exp_avg"].detach().clone().float()
        out["adam.exp_avg_sq." + k] = opt.state[params[k]]["exp_avg_sq"].detach().clone().float()

    out = {k: v.contiguous().to(torch.float32) for k, v in out.items()}
    meta = {
        "cell": rnn_type, "ntoken": str(ntoken), "ninp": str(ninp), "nhid": str(nhid), "nlayers": str(nlayers),
        "tie_weights": "true" if tie else "false", "batch": str(B), "bptt": str(T), "lr": str(LR),
        "clip": str(CLIP), "torch_version": torch.__version__,
    }
    path = os.path.normpath(os.path.join(OUT, f"golden_{name}.safetensors"))
    save_file(out, path, metadata=meta)
    sort_metadata(path)
    print(f"{path}: {rnn_type} V={ntoken} E={ninp} H={nhid} L={nlayers} tied={tie} B={B} T={T} "
          f"loss={out['expected.loss'].item():.6f} gradnorm1={out['expected.gradnorm1'].item():.6f} "
          f"gradnorm2={out['expected.gradnorm2'].item():.6f} tensors={len(out)} bytes={os.path.getsize(path)}")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    for i, cfg in enumerate(CONFIGS):
        make(i, *cfg)


if __name__ == "__main__":
    main()
