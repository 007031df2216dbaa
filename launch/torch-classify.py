#!/usr/bin/env python3
"""PyTorch reference for ddplm's text classification: the three models, the tokenizer and the vocabulary rules
that `ddplm` implements, written in plain PyTorch so its results can be checked against ddplm's.

    /path/to/venv/bin/python launch/torch-classify.py SUBCOMMAND ...     (needs torch, numpy, safetensors)

Subcommands (each has --help):
  eval RUN --data FILE|DIR     load a ddplm run directory (config.json, vocab.txt, model.safetensors) into the
                               module its config names and print `accuracy A | loss L | N documents`
  bench --model M              training throughput (forward, loss, backward, Adam) on synthetic documents:
                               prints `tokens/s N` (tokens = non-pad tokens). Note for bilstm: on CPU,
                               PyTorch 2.15's LSTM backward on a packed batch of unequal lengths is ~3x slower
                               than on equal lengths, and grows faster than linearly past ~180 steps
  train --model M --train F --test F
                               plain PyTorch training with the same tokenizer and vocabulary rules, the same
                               --max-tokens cut and gradient-norm --clip as ddplm's defaults (learnability check
                               of a corpus; prints valid/test accuracy per epoch)
  fixtures                     write Tests/DDPLMTests/Fixtures/golden_classify_{wordavg,bilstm,cnn,cnn3}.safetensors

Tokenizer: `<br>`, `<br/>`, `<br />` (any ASCII case) become spaces; ASCII A-Z are lower-cased; the text is split
on whitespace; in each chunk alphanumeric runs are words (an apostrophe between two alphanumerics belongs to the
word), every other character is a one-character token; a word ending in "n't" (longer than 3) splits into
word[:-3] + "n't", else a word ending in "'s" (longer than 2) into word[:-2] + "'s".
  "I didn't like it!"                  -> i did n't like it !
  "The movie's plot<br />was 'ok'."    -> the movie 's plot was ' ok ' .
Corpora: a file of `label<TAB>text` lines (UTF-8, split at the first TAB, empty lines skipped) or an aclImdb-style
directory (every subdirectory except `unsup` is a label holding *.txt documents, read in sorted name order).
Vocabulary: id 0 `<unk>`, id 1 `<pad>`, then the most frequent training tokens (ties: token ascending); an empty
document is one `<unk>`. Two labels: one logit, BCEWithLogits, class 1 = the second sorted label; K > 2 labels:
K logits, cross-entropy."""
import argparse
import collections
import json
import os
import random
import re
import struct
import sys
import time

UNK, PAD = 0, 1

# ---------------------------------------------------------------------------------------------- tokenizer

_BR = re.compile(r"<br\s*/?>", re.I)
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _emit_word(word, out):
    if len(word) > 3 and word.endswith("n't"):
        out.append(word[:-3])
        out.append("n't")
    elif len(word) > 2 and word.endswith("'s"):
        out.append(word[:-2])
        out.append("'s")
    else:
        out.append(word)


def tokenize(text):
    """The shared tokenizer (see the module docstring); returns a list of str tokens."""
    text = _BR.sub(" ", text).translate(_ASCII_LOWER)
    out = []
    for chunk in text.split():
        n = len(chunk)
        start = -1                                  # start of the current word in chunk, -1 = none
        for i, c in enumerate(chunk):
            if c.isalnum():
                if start < 0:
                    start = i
            elif c == "'" and start >= 0 and i + 1 < n and chunk[i + 1].isalnum():
                pass                                # inside a word: it's, didn't, rock'n'roll
            else:
                if start >= 0:
                    _emit_word(chunk[start:i], out)
                    start = -1
                out.append(c)
        if start >= 0:
            _emit_word(chunk[start:], out)
    return out


# ---------------------------------------------------------------------------------------------- corpora

def read_corpus(path):
    """[(label, text)] from a `label<TAB>text` file or an aclImdb-style directory."""
    docs = []
    if os.path.isdir(path):
        for label in sorted(os.listdir(path)):
            sub = os.path.join(path, label)
            if label == "unsup" or not os.path.isdir(sub):
                continue
            for name in sorted(os.listdir(sub)):
                if name.endswith(".txt"):
                    with open(os.path.join(sub, name), encoding="utf-8", errors="replace") as f:
                        docs.append((label, f.read()))
        if not docs:
            sys.exit(f"error: {path}: no label subdirectories with *.txt documents")
        return docs
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        data = f.read()
    for number, line in enumerate(data.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if line == "":
            continue
        if "\t" not in line:
            sys.exit(f"error: {path}:{number}: no TAB between label and text")
        label, text = line.split("\t", 1)
        docs.append((label, text))
    if not docs:
        sys.exit(f"error: {path}: no documents")
    return docs


def build_vocab(token_lists, max_size=25000):
    counts = collections.Counter(t for toks in token_lists for t in toks)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_size]
    return ["<unk>", "<pad>"] + [t for t, _ in ranked]


def numericalize(docs, stoi, labels, max_tokens=0):
    """docs [(label, text)] -> (list of id lists, list of class indices); unknown label -> error exit.
    max_tokens > 0 keeps a document's first max_tokens tokens (ddplm's --max-tokens, config data.maxTokens)."""
    index = {l: i for i, l in enumerate(labels)}
    ids, ys = [], []
    for label, text in docs:
        if label not in index:
            sys.exit(f"error: label {label!r} is not one of the model's labels {labels}")
        toks = tokenize(text)
        if max_tokens > 0:
            toks = toks[:max_tokens]
        ids.append([stoi.get(t, UNK) for t in toks] or [UNK])
        ys.append(index[label])
    return ids, ys


# ---------------------------------------------------------------------------------------------- models

def _torch():
    global torch, nn, F
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    return torch


def define_models():
    global WordAVG, BiLSTM, CNN

    class WordAVG(nn.Module):
        def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, pad_idx):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
            self.fc1 = nn.Linear(embedding_dim, hidden_dim)
            self.fc = nn.Linear(hidden_dim, output_dim)

        def forward(self, text, lengths):
            emb = self.embedding(text)                                              # [B, T, E]
            mask = (torch.arange(text.size(1))[None, :] < lengths[:, None]).to(emb.dtype)
            avg = (emb * mask[:, :, None]).sum(1) / lengths[:, None].to(emb.dtype)
            return self.fc(torch.relu(self.fc1(avg)))

    class BiLSTM(nn.Module):
        def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers, dropout, pad_idx):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
            self.rnn = nn.LSTM(embedding_dim, hidden_dim, num_layers=n_layers, bidirectional=True,
                               dropout=dropout if n_layers > 1 else 0.0, batch_first=True)
            self.fc = nn.Linear(2 * hidden_dim, output_dim)
            self.dropout = nn.Dropout(dropout)

        def forward(self, text, lengths):
            embedded = self.dropout(self.embedding(text))
            packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            _, (hidden, _) = self.rnn(packed)
            hidden = self.dropout(torch.cat((hidden[-2], hidden[-1]), dim=1))
            return self.fc(hidden)

    class CNN(nn.Module):
        def __init__(self, vocab_size, embedding_dim, n_filters, filter_sizes, output_dim, dropout, pad_idx):
            super().__init__()
            self.pad_idx = pad_idx
            self.filter_sizes = list(filter_sizes)
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
            self.convs = nn.ModuleList([nn.Conv1d(embedding_dim, n_filters, fs) for fs in filter_sizes])
            self.fc = nn.Linear(len(filter_sizes) * n_filters, output_dim)
            self.dropout = nn.Dropout(dropout)

        def forward(self, text, lengths):
            fmax = max(self.filter_sizes)
            if text.size(1) < fmax:                 # every document is padded to >= max filter size
                text = F.pad(text, (0, fmax - text.size(1)), value=self.pad_idx)
            emb = self.embedding(text).permute(0, 2, 1)                             # [B, E, T]
            padded = lengths.clamp(min=fmax)                                       # Lp per document
            pooled = []
            for conv, fs in zip(self.convs, self.filter_sizes):
                conved = torch.relu(conv(emb))                                      # [B, F, T - fs + 1]
                valid = torch.arange(conved.size(2))[None, :] <= (padded - fs)[:, None]
                conved = conved * valid[:, None, :].to(conved.dtype)               # relu >= 0: 0 never wins
                pooled.append(conved.max(dim=2).values)
            return self.fc(self.dropout(torch.cat(pooled, dim=1)))

    return {"WordAVG": WordAVG, "BiLSTM": BiLSTM, "CNN": CNN}


def setup_torch(threads):
    _torch()
    torch.set_num_threads(threads)
    return define_models()


def make_model(classes, name, vocab_size, output_dim, emb=100, hidden=None, layers=2, filters=100,
               filter_sizes=(3, 4, 5), dropout=0.5):
    """(class name, constructor kwargs, module) for --model wordavg|bilstm|cnn with the default sizes."""
    if name == "wordavg":
        cls = "WordAVG"
        args = dict(vocab_size=vocab_size, embedding_dim=emb, hidden_dim=hidden or 100, output_dim=output_dim,
                    pad_idx=PAD)
    elif name == "bilstm":
        cls = "BiLSTM"
        args = dict(vocab_size=vocab_size, embedding_dim=emb, hidden_dim=hidden or 256, output_dim=output_dim,
                    n_layers=layers, dropout=dropout, pad_idx=PAD)
    else:
        cls = "CNN"
        args = dict(vocab_size=vocab_size, embedding_dim=emb, n_filters=filters, filter_sizes=list(filter_sizes),
                    output_dim=output_dim, dropout=dropout, pad_idx=PAD)
    return cls, args, classes[cls](**args)


def loss_sum(logits, y):
    """Summed loss over the batch: BCEWithLogits (one output, float target) or cross-entropy (K outputs)."""
    if logits.size(1) == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype), reduction="sum")
    return F.cross_entropy(logits, y, reduction="sum")


def predictions(logits):
    return (logits[:, 0] > 0).long() if logits.size(1) == 1 else logits.argmax(1)


def collate(ids, ys, order):
    docs = [ids[i] for i in order]
    lengths = torch.tensor([len(d) for d in docs], dtype=torch.long)
    text = torch.full((len(docs), int(lengths.max())), PAD, dtype=torch.long)
    for r, d in enumerate(docs):
        text[r, :len(d)] = torch.tensor(d, dtype=torch.long)
    return text, lengths, torch.tensor([ys[i] for i in order], dtype=torch.long)


def bucket_batches(lengths, batch, rng, pool_batches=100):
    """torchtext BucketIterator-style batches: shuffle, sort pools of pool_batches*batch documents by length,
    cut into batches, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    pool = pool_batches * batch
    for p in range(0, len(order), pool):
        chunk = sorted(order[p:p + pool], key=lambda i: lengths[i])
        batches += [chunk[b:b + batch] for b in range(0, len(chunk), batch)]
    rng.shuffle(batches)
    return batches


def evaluate(model, ids, ys, batch):
    """(accuracy, mean loss per document) in eval mode, batches in file order."""
    model.eval()
    correct, total = 0, 0.0
    with torch.no_grad():
        for b in range(0, len(ids), batch):
            text, lengths, y = collate(ids, ys, range(b, min(b + batch, len(ids))))
            logits = model(text, lengths)
            total += loss_sum(logits, y).item()
            correct += int((predictions(logits) == y).sum())
    return correct / len(ids), total / len(ids)


# ---------------------------------------------------------------------------------------------- eval

def cmd_eval(a):
    classes = setup_torch(a.threads)
    from safetensors.torch import load_file
    with open(os.path.join(a.run, "config.json")) as f:
        cfg = json.load(f)
    labels = cfg["labels"]
    spec = cfg["pytorch"]
    model = classes[spec["class"]](**spec["args"])
    model.load_state_dict(load_file(os.path.join(a.run, "model.safetensors")), strict=True)
    with open(os.path.join(a.run, "vocab.txt"), encoding="utf-8") as f:
        itos = f.read().split("\n")
    if itos and itos[-1] == "":
        itos.pop()
    stoi = {}
    for i, t in enumerate(itos):
        stoi.setdefault(t, i)
    ids, ys = numericalize(read_corpus(a.data), stoi, labels, cfg.get("data", {}).get("maxTokens", 0))
    acc, loss = evaluate(model, ids, ys, a.batch)
    print(f"accuracy {acc:.4f} | loss {loss:.6f} | {len(ids)} documents")


# ---------------------------------------------------------------------------------------------- bench

def cmd_bench(a):
    classes = setup_torch(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    warmup = max(0, a.warmup)
    n = (a.steps + warmup) * a.batch
    ids = [[rng.randrange(2, a.vocab) for _ in range(rng.randint(a.len_min, a.len_max))] for _ in range(n)]
    ys = [rng.randrange(2) for _ in range(n)]
    batches = bucket_batches([len(d) for d in ids], a.batch, rng)
    batches = [b for b in batches if len(b) == a.batch][:a.steps + warmup]
    cls, args, model = make_model(classes, a.model, a.vocab, 1, emb=a.emb, hidden=a.hidden, layers=a.layers,
                                  filters=a.filters)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    tokens, t0 = 0, None
    for step, order in enumerate(batches):
        if step == warmup:
            t0, c0 = time.perf_counter(), time.process_time()
        text, lengths, y = collate(ids, ys, order)
        opt.zero_grad(set_to_none=True)
        loss = loss_sum(model(text, lengths), y) / len(order)
        loss.backward()
        opt.step()
        if step >= warmup:
            tokens += int(lengths.sum())
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"# {cls} {json.dumps(args)} batch {a.batch} threads {a.threads} steps {a.steps} "
          f"tokens {tokens} seconds {dt:.2f} cpu-seconds {cpu:.2f} ({tokens / cpu:.0f} tokens per cpu-second) "
          f"torch {torch.__version__}", file=sys.stderr)
    print(f"tokens/s {tokens / dt:.0f}")


# ---------------------------------------------------------------------------------------------- train

def cmd_train(a):
    classes = setup_torch(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    train_docs = read_corpus(a.train)
    if a.valid:
        valid_docs = read_corpus(a.valid)
    else:                                            # hold out 30% of train, fixed seed
        order = list(range(len(train_docs)))
        random.Random(a.seed).shuffle(order)
        cut = int(round(0.3 * len(order)))
        valid_docs = [train_docs[i] for i in sorted(order[:cut])]
        train_docs = [train_docs[i] for i in sorted(order[cut:])]
    test_docs = read_corpus(a.test)
    labels = sorted({l for l, _ in train_docs})
    cap = a.max_tokens if a.max_tokens > 0 else None    # the vocabulary counts the kept tokens, as ddplm's
    itos = build_vocab([tokenize(t)[:cap] for _, t in train_docs], a.max_vocab)
    stoi = {t: i for i, t in enumerate(itos)}
    tr = numericalize(train_docs, stoi, labels, a.max_tokens)
    va = numericalize(valid_docs, stoi, labels, a.max_tokens)
    te = numericalize(test_docs, stoi, labels, a.max_tokens)
    out_dim = 1 if len(labels) == 2 else len(labels)
    cls, args, model = make_model(classes, a.model, len(itos), out_dim, emb=a.emb, hidden=a.hidden,
                                  layers=a.layers, filters=a.filters, dropout=a.dropout)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"{cls} {json.dumps(args)} | {nparams} parameters | labels {labels} | train {len(tr[0])} "
          f"valid {len(va[0])} test {len(te[0])} | vocab {len(itos)} | max tokens {a.max_tokens} | "
          f"clip {a.clip if a.clip > 0 else 'off'} | seed {a.seed} | threads {a.threads}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    lengths = [len(d) for d in tr[0]]
    best = (-1.0, 0, 0.0)
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for order in bucket_batches(lengths, a.batch, rng):
            text, lens, y = collate(tr[0], tr[1], order)
            opt.zero_grad(set_to_none=True)
            loss = loss_sum(model(text, lens), y) / len(order)
            loss.backward()
            if a.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            total += loss.item() * len(order)
            count += len(order)
        train_time = time.perf_counter() - t0
        vacc, vloss = evaluate(model, *va, a.batch)
        tacc, tloss = evaluate(model, *te, a.batch)
        if vacc > best[0]:
            best = (vacc, epoch, tacc)
        print(f"epoch {epoch} | train loss {total / count:.4f} | valid acc {vacc:.4f} loss {vloss:.4f} | "
              f"test acc {tacc:.4f} loss {tloss:.4f} | train {train_time:.1f} s", flush=True)
    print(f"best valid acc {best[0]:.4f} at epoch {best[1]} | its test acc {best[2]:.4f}")
    if a.save:                                       # the last epoch's model, in a ddplm-like run directory
        from safetensors.torch import save_file
        os.makedirs(a.save, exist_ok=True)
        with open(os.path.join(a.save, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in itos))
        with open(os.path.join(a.save, "config.json"), "w") as f:
            json.dump({"labels": labels, "pytorch": {"class": cls, "args": args}}, f, indent=2)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                  os.path.join(a.save, "model.safetensors"))
        print(f"saved {a.save} (config.json with labels and pytorch only, vocab.txt, model.safetensors)")


# ---------------------------------------------------------------------------------------------- fixtures

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DDPLMTests", "Fixtures")
FIXTURES = [
    # name, class, constructor kwargs, lengths, labels
    ("wordavg", "WordAVG", dict(vocab_size=13, embedding_dim=5, hidden_dim=4, output_dim=1, pad_idx=PAD),
     [5, 1, 3, 4], [1, 0, 1, 0]),
    ("bilstm", "BiLSTM", dict(vocab_size=13, embedding_dim=5, hidden_dim=4, output_dim=1, n_layers=2,
                              dropout=0.0, pad_idx=PAD),
     [5, 1, 3, 4], [1, 0, 0, 1]),
    ("cnn", "CNN", dict(vocab_size=13, embedding_dim=5, n_filters=3, filter_sizes=[2, 3], output_dim=1,
                        dropout=0.0, pad_idx=PAD),
     [5, 1, 2, 4], [0, 1, 1, 0]),
    ("cnn3", "CNN", dict(vocab_size=13, embedding_dim=5, n_filters=3, filter_sizes=[2, 3], output_dim=3,
                         dropout=0.0, pad_idx=PAD),
     [5, 1, 2, 4], [2, 0, 1, 2]),
]


def sort_metadata(path):
    """save_file writes __metadata__ in hash-map order: rewrite the header with sorted metadata keys (same
    length) so the bytes are stable."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n), object_pairs_hook=collections.OrderedDict)
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":")).encode()
        assert len(text) <= n
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def make_fixture(index, classes, name, cls, args, lengths, labels):
    from safetensors.torch import save_file
    torch.manual_seed(4321 + index)
    model = classes[cls](**args).float()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
        model.embedding.weight[PAD].zero_()
    V, B, T = args["vocab_size"], len(lengths), max(lengths)
    allowed = torch.tensor([i for i in range(V) if i != PAD])
    ids = torch.full((B, T), PAD, dtype=torch.long)
    for b, L in enumerate(lengths):
        ids[b, :L] = allowed[torch.randint(0, len(allowed), (L,))]
    ids[0, 1] = UNK                                  # make sure <unk> (id 0) occurs
    lens = torch.tensor(lengths, dtype=torch.long)
    y = torch.tensor(labels, dtype=torch.long)

    model.train()                                    # dropout is 0: train and eval agree
    model.zero_grad(set_to_none=True)
    logits = model(ids, lens)
    loss = loss_sum(logits, y) / B
    loss.backward()

    out = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out["input.ids"] = ids.float()
    out["input.lengths"] = lens.float()
    out["input.labels"] = y.float()
    out["expected.logits"] = logits.detach().clone()
    out["expected.loss"] = loss.detach().reshape(1).clone()
    params = dict(model.named_parameters())
    for k in model.state_dict():
        out["grad." + k] = params[k].grad.detach().clone()
    assert float(out["grad.embedding.weight"][PAD].abs().max()) == 0.0
    out = {k: v.contiguous().to(torch.float32) for k, v in out.items()}
    meta = {"pytorch": json.dumps({"class": cls, "args": args}), "torch_version": torch.__version__,
            "loss": "bce_with_logits" if args["output_dim"] == 1 else "cross_entropy"}
    path = os.path.normpath(os.path.join(FIXTURE_DIR, f"golden_classify_{name}.safetensors"))
    save_file(out, path, metadata=meta)
    sort_metadata(path)
    print(f"{path}: {cls} {json.dumps(args)} lengths={lengths} loss={out['expected.loss'].item():.6f} "
          f"tensors={len(out)} bytes={os.path.getsize(path)}")


def cmd_fixtures(a):
    classes = setup_torch(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    for i, (name, cls, args, lengths, labels) in enumerate(FIXTURES):
        make_fixture(i, classes, name, cls, args, lengths, labels)


# ---------------------------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    e = sub.add_parser("eval", help="accuracy and mean loss of a ddplm run directory on a corpus")
    e.add_argument("run", help="run directory with config.json, vocab.txt, model.safetensors")
    e.add_argument("--data", required=True, help="label<TAB>text file or aclImdb-style directory")
    e.add_argument("--batch", type=int, default=64)
    e.add_argument("--threads", type=int, default=1)
    e.set_defaults(func=cmd_eval)

    def model_args(s):
        s.add_argument("--model", required=True, choices=["wordavg", "bilstm", "cnn"])
        s.add_argument("--batch", type=int, default=64)
        s.add_argument("--emb", type=int, default=100)
        s.add_argument("--hidden", type=int, default=None, help="default: 100 (wordavg), 256 (bilstm)")
        s.add_argument("--layers", type=int, default=2, help="bilstm layers")
        s.add_argument("--filters", type=int, default=100, help="cnn filters per size (sizes 3,4,5)")
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--seed", type=int, default=0)

    b = sub.add_parser("bench", help="training tokens/s on synthetic documents (Adam 1e-3, dropout 0.5)")
    model_args(b)
    b.add_argument("--vocab", type=int, default=25002)
    b.add_argument("--steps", type=int, default=20, help="timed steps, after the warm-up")
    b.add_argument("--warmup", type=int, default=3,
                   help="untimed warm-up steps (default 3, as ddplm bench; PyTorch's step may keep getting faster for tens of steps)")
    b.add_argument("--len-min", type=int, default=50)
    b.add_argument("--len-max", type=int, default=400)
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="plain PyTorch training (learnability check)")
    model_args(t)
    t.add_argument("--train", required=True)
    t.add_argument("--valid", help="default: 30%% of --train held out (fixed seed)")
    t.add_argument("--test", required=True)
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--dropout", type=float, default=0.5)
    t.add_argument("--max-vocab", type=int, default=25000, help="tokens besides <unk> and <pad>")
    t.add_argument("--max-tokens", type=int, default=500,
                   help="keep a document's first N tokens, as ddplm's --max-tokens (default 500; 0 keeps all)")
    t.add_argument("--clip", type=float, default=5.0,
                   help="global gradient-norm clip before each Adam step, as ddplm's --clip (default 5.0; 0 = off)")
    t.add_argument("--save", metavar="DIR", help="write the final model as a run directory `eval` reads")
    t.set_defaults(func=cmd_train)

    f = sub.add_parser("fixtures", help="write the golden_classify_*.safetensors test fixtures")
    f.set_defaults(func=cmd_fixtures)

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
