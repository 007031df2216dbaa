#!/usr/bin/env python3
"""Load a ddplm run directory into PyTorch and recompute its validation loss the way ddplm does.

    python3 launch/pytorch-eval.py runs/NAME        (needs torch and safetensors)

Proves the checkpoint is a drop-in state_dict for PyTorch's word_language_model RNNModel: the printed
loss equals `ddplm eval --checkpoint runs/NAME --split valid`."""
import json, math, sys, torch, torch.nn as nn
from safetensors.torch import load_file
run = sys.argv[1]
class RNNModel(nn.Module):
    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.0, tie_weights=False):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type == "RNN_TANH":
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity="tanh", dropout=dropout)
        else:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
cfg = json.load(open(f"{run}/config.json"))
model = RNNModel(**cfg["pytorch"])
print(model.load_state_dict(load_file(f"{run}/model.safetensors")))
model.eval()
# evaluate validation loss exactly like ddplm: B columns, bptt windows, fresh state
itos = open(f"{run}/vocab.txt").read().split("\n")[:-1]; stoi = {w: i for i, w in enumerate(itos)}
ids = torch.tensor([stoi.get(w, 0) for w in open(cfg["data"]["valid"]).read().lower().split()])
B, T = cfg["data"]["batch"], cfg["data"]["bptt"]; n = ids.numel() // B
data = ids[: n * B].view(B, n).t().contiguous()
total, count, h = 0.0, 0, None
with torch.no_grad():
    for i in range(0, n - 1, T):
        L = min(T, n - 1 - i); x, y = data[i:i+L], data[i+1:i+1+L]
        o, h = model.rnn(model.encoder(x), h)
        total += nn.functional.cross_entropy(model.decoder(o).view(-1, len(itos)), y.reshape(-1), reduction="sum").item(); count += y.numel()
print(f"pytorch valid loss {total/count:.4f} ppl {math.exp(total/count):.2f}")
