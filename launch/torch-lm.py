#!/usr/bin/env python3
"""PyTorch reference for ddplm's language model: the lecture's LSTM language model on text8 in plain PyTorch,
without torchtext, with ddplm's flags, data rules and training schedule, so that its speed and its learning
curve can be set beside ddplm's.

    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy
    /tmp/torch-venv/bin/python launch/torch-lm.py bench [--vocab V --emb E --hidden H ...]   # like `ddplm bench`
    /tmp/torch-venv/bin/python launch/torch-lm.py train [--vocab-size N --max-minutes M ...] # like `ddplm train`

Each mode has --help. A flag that both programs have means the same in both (e.g. bench's --vocab V is the
whole vocabulary, <unk> and <pad> included; train's --vocab-size N is the number of training words kept, so
V = N + 2), so one config is one set of flags:
    ddplm bench                   --threads 1 --vocab 10002 --emb 650 --hidden 650 --layers 2 --batch 20 --bptt 35
    launch/torch-lm.py bench      --threads 1 --vocab 10002 --emb 650 --hidden 650 --layers 2 --batch 20 --bptt 35

Data: a corpus is whitespace-separated words, lower-cased (Python's str.lower().split(), which ddplm's reader
matches). Vocabulary: id 0 <unk>, id 1 <pad>, then the most frequent training words, ties alphabetical (by code
point); other words map to <unk>. The token stream is cut into --batch contiguous columns (the tail that does
not fill a column is dropped) and read in windows of --bptt rows, the target being the input shifted by one;
the last window may be shorter (torchtext's BPTTIterator). --train defaults to data/text8.train.txt in this
repository when it exists, else the bundled data/sample/text8.train.txt; --valid and --test default to the
training file's name with 'train' replaced by 'dev' and 'test'.

Model: Embedding(V, E) -> --layers x LSTM|GRU|RNN_TANH(H) -> Linear(H, V) (PyTorch's word_language_model
layout: dropout on the embedding output, between layers and on the recurrent output; --tie-weights shares the
decoder weight with the embedding). PyTorch's default initialisation.

Step: the hidden state carried over from the window before (detached), mean cross-entropy over every
position, backward, clip_grad_norm_(--clip), Adam(--lr).

bench: --warmup untimed steps, then --steps timed ones; prints one JSON line whose tokens_per_s is batch x bptt
over the median step, as `ddplm bench` does. Tokens are drawn uniformly from [2, V) as `ddplm bench` draws
them, or with --train FILE read from that corpus's windows (its V - 2 most frequent words; the model has V
rows either way, and which ids a dense step sees does not change its work).

train: as `ddplm train` schedules it: --epochs over the training windows (the carried state reset at each
epoch's start), validation every --eval-every steps and at each epoch's end (not twice within a quarter of
--eval-every), the learning rate multiplied by --lr-decay when a scheduled validation does not improve on the
best, the best weights kept in memory; --max-steps and --max-minutes stop early; at the end a validation if the
last step had none, then the test split on the best weights. Stdout: one JSON line per validation
({"type": "valid", "step", "epoch", "loss", "ppl", "lr", "tokens", "best", "elapsed_s"}, the keys of ddplm's
metrics.jsonl; elapsed_s is the wall time since training began, validations included, as ddplm's) and a final
{"type": "test", ...} line, with "validation_s", the seconds all validations took; progress goes to stderr.

--matmul-precision medium: torch.set_float32_matmul_precision("medium") and oneDNN's bf16 fp32-math mode for
matmuls and RNNs (torch.backends.mkldnn.{matmul,rnn}.fp32_precision = "bf16", where this PyTorch has them):
float32 tensors whose products may run with bfloat16 inputs, what ddplm's --matmul-precision medium does on
AMX or AVX512-BF16. highest (the default) is float32 throughout.
"""
import argparse
import collections
import json
import math
import os
import resource
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECIALS = ["<unk>", "<pad>"]
CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN_TANH"}


def note(msg):
    print(f"torch-lm: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- data

def default_corpora():
    """(train, valid, test): text8 in data/ when present, else the bundled sample."""
    for d in ("data", os.path.join("data", "sample")):
        train = os.path.join(REPO, d, "text8.train.txt")
        if os.path.isfile(train):
            return train, os.path.join(REPO, d, "text8.dev.txt"), os.path.join(REPO, d, "text8.test.txt")
    sys.exit("torch-lm: no training corpus: data/text8.train.txt and data/sample/text8.train.txt are missing; pass --train FILE")


def sibling(train, split):
    """The training file's name with 'train' replaced by split, or None when it has no 'train'."""
    d, base = os.path.split(train)
    name = base.replace("train", split)
    return None if name == base else os.path.join(d, name)


def read_words(path, role):
    try:
        with open(path, encoding="utf-8") as f:
            words = f.read().lower().split()
    except OSError as e:
        sys.exit(f"torch-lm: {role} corpus '{path}': {e.strerror}")
    if not words:
        sys.exit(f"torch-lm: {role} corpus '{path}' is empty (no words)")
    return words


def build_vocab(words, kept):
    """<unk>, <pad>, then the `kept` most frequent words, ties alphabetical (code point order)."""
    counts = collections.Counter(words)
    for s in SPECIALS:
        counts.pop(s, None)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(0, kept)]
    itos = SPECIALS + [w for w, _ in ranked]
    return itos, {w: i for i, w in enumerate(itos)}


def encode(words, stoi):
    return torch.tensor([stoi.get(w, 0) for w in words], dtype=torch.long)


def batchify(ids, batch, bptt, name):
    """(rows, batch): column j is the j-th contiguous stretch of the stream."""
    rows = ids.numel() // batch
    if rows < bptt + 1:
        sys.exit(f"torch-lm: {name} is too short: {ids.numel()} tokens, but batch {batch} x (bptt {bptt} + 1) = "
                 f"{batch * (bptt + 1)} are needed for one window")
    return ids[: rows * batch].view(batch, rows).t().contiguous()


def windows(data, bptt):
    for i in range(0, data.size(0) - 1, bptt):
        n = min(bptt, data.size(0) - 1 - i)
        yield data[i : i + n], data[i + 1 : i + 1 + n]


def window_count(data, bptt):
    return (data.size(0) - 1 + bptt - 1) // bptt


# ---------------------------------------------------------------------------------------------- model

def define_model():
    global LM

    class LM(nn.Module):
        def __init__(self, vocab, emb, hidden, cell="LSTM", layers=1, dropout=0.0, tie=False):
            super().__init__()
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(vocab, emb)
            if cell == "RNN_TANH":
                self.rnn = nn.RNN(emb, hidden, layers, nonlinearity="tanh", dropout=dropout)
            else:
                self.rnn = getattr(nn, cell)(emb, hidden, layers, dropout=dropout)
            self.decoder = nn.Linear(hidden, vocab)
            if tie:
                self.decoder.weight = self.encoder.weight

        def forward(self, x, h):
            o, h = self.rnn(self.drop(self.encoder(x)), h)
            return self.decoder(self.drop(o)), h


def detach(h):
    return h.detach() if isinstance(h, torch.Tensor) else tuple(detach(v) for v in h)


def zeros(model, batch):
    w = next(model.parameters())
    z = w.new_zeros(model.rnn.num_layers, batch, model.rnn.hidden_size)
    return (z, z.clone()) if isinstance(model.rnn, nn.LSTM) else z


def evaluate(model, data, bptt, batch):
    """Mean cross-entropy over every window of data, from a fresh state (ddplm's Evaluator)."""
    model.eval()
    total, count, h = 0.0, 0, zeros(model, batch)
    with torch.no_grad():
        for x, y in windows(data, bptt):
            out, h = model(x, h)
            total += F.cross_entropy(out.view(-1, out.size(-1)), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    model.train()
    return total / count


def make_step(model, opt, clip):
    def step(x, y, h):
        h = detach(h)
        opt.zero_grad()
        out, h = model(x, h)
        loss = F.cross_entropy(out.view(-1, out.size(-1)), y.reshape(-1))
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss.item(), float(norm), h
    return step


# ---------------------------------------------------------------------------------------------- runtime

def setup(a):
    """Imports torch, sets threads, matmul precision and the seed."""
    global torch, nn, F
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    define_model()
    torch.set_num_threads(a.threads)
    torch.set_float32_matmul_precision(a.matmul_precision)
    if a.matmul_precision == "medium":
        try:
            with open("/proc/cpuinfo") as f:
                if "avx512_bf16" not in f.read():
                    note("this CPU has no AVX512-BF16 (ddplm refuses --matmul-precision medium here); PyTorch runs it anyway")
        except OSError:
            pass
        for backend in ("matmul", "rnn"):
            try:
                setattr(getattr(torch.backends.mkldnn, backend), "fp32_precision", "bf16")
            except (AttributeError, RuntimeError) as e:
                note(f"torch.backends.mkldnn.{backend}.fp32_precision not set: {e}")
    torch.manual_seed(a.seed)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def model_fields(a, vocab):
    return {"cell": a.cell, "vocab": vocab, "batch": a.batch, "bptt": a.bptt, "emb": a.emb, "hidden": a.hidden,
            "layers": a.layers, "dropout": a.dropout, "tie_weights": a.tie_weights}


def build_model(a, vocab):
    if a.tie_weights and a.emb != a.hidden:
        sys.exit(f"torch-lm: --tie-weights needs --emb equal to --hidden (got {a.emb} and {a.hidden})")
    return LM(vocab, a.emb, a.hidden, CELLS[a.cell], a.layers, a.dropout, a.tie_weights)


# ---------------------------------------------------------------------------------------------- bench

def cmd_bench(a):
    setup(a)
    V = a.vocab
    if V < 3:
        sys.exit(f"torch-lm: vocabulary size must be at least 3 (got {V})")
    model = build_model(a, V)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = make_step(model, opt, 5.0)
    if a.train:
        words = read_words(a.train, "training")
        itos, stoi = build_vocab(words, V - 2)
        data = batchify(encode(words, stoi), a.batch, a.bptt, f"training corpus '{a.train}'")

        def batches():
            while True:
                yield from ((x, y) for x, y in windows(data, a.bptt) if x.size(0) == a.bptt)
        tokens = f"corpus {os.path.basename(a.train)}"
    else:
        gen = torch.Generator().manual_seed(a.seed)

        def batches():
            while True:
                yield (torch.randint(2, V, (a.bptt, a.batch), generator=gen),
                       torch.randint(2, V, (a.bptt, a.batch), generator=gen))
        tokens = "random"
    it, h, times = batches(), zeros(model, a.batch), []
    for s in range(max(0, a.warmup) + a.steps):
        x, y = next(it)
        t0 = time.perf_counter()
        _, _, h = step(x, y, h)
        if s >= max(0, a.warmup):
            times.append(time.perf_counter() - t0)
    med = sorted(times)[len(times) // 2]
    out = {"impl": "pytorch", "torch": torch.__version__, "threads_per_rank": a.threads}
    out.update(model_fields(a, V))
    out.update({"tokens": tokens, "matmul_precision": a.matmul_precision, "steps": a.steps,
                "step_ms_median": round(med * 1e3, 2),
                "tokens_per_s": round(a.batch * a.bptt / med, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "parameters": sum(p.numel() for p in model.parameters())})
    print(json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------- train

def cmd_train(a):
    if a.train is None:
        a.train, valid, test = default_corpora()
        if not a.train.startswith(os.path.join(REPO, "data", "text8")):
            note("data/text8.train.txt not found; training on the bundled 1 MB sample in data/sample")
        a.valid, a.test = a.valid or valid, a.test or test
    else:
        a.valid, a.test = a.valid or sibling(a.train, "dev"), a.test or sibling(a.train, "test")
        if not a.valid or not a.test:
            sys.exit(f"torch-lm: give --valid and --test with --train '{a.train}' (their names cannot be derived from it)")
    if a.eval_every <= 0:
        sys.exit("torch-lm: --eval-every must be positive")
    setup(a)
    t_read = time.perf_counter()
    words = read_words(a.train, "training")
    itos, stoi = build_vocab(words, a.vocab_size)
    train = batchify(encode(words, stoi), a.batch, a.bptt, f"training corpus '{a.train}'")
    valid = batchify(encode(read_words(a.valid, "validation"), stoi), a.batch, a.bptt, f"validation corpus '{a.valid}'")
    test = batchify(encode(read_words(a.test, "test"), stoi), a.batch, a.bptt, f"test corpus '{a.test}'")
    V = len(itos)
    model = build_model(a, V)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    step = make_step(model, opt, a.clip)
    per_epoch = window_count(train, a.bptt)
    note(f"{CELLS[a.cell]} V={V} E={a.emb} H={a.hidden} layers={a.layers} "
         f"params={sum(p.numel() for p in model.parameters())} | batch {a.batch} bptt {a.bptt} | {per_epoch} steps/epoch | "
         f"{len(words)} train tokens read in {time.perf_counter() - t_read:.2f}s | torch {torch.__version__}, "
         f"{a.threads} thread(s), matmul precision {a.matmul_precision}")

    lr, sched_best, best_loss, best_state = a.lr, None, None, None
    step_no, tokens, last_validated = 0, 0, 0
    t0 = time.time()
    validating = 0.0  # seconds spent validating (reported with the test); elapsed_s includes them, as ddplm's

    def validate(scheduled, epoch):
        nonlocal lr, sched_best, best_loss, best_state, last_validated, validating
        t_valid = time.time()
        v = evaluate(model, valid, a.bptt, a.batch)
        what = "improved"
        if scheduled:
            if sched_best is None or v < sched_best:
                sched_best = v
            else:
                lr *= a.lr_decay
                for g in opt.param_groups:
                    g["lr"] = lr
                what = f"no improvement: lr -> {lr:.3e}"
        if best_loss is None or v < best_loss:
            best_loss = v
            best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        elif not scheduled:
            what = f"not better than {best_loss:.4f}"
        last_validated = step_no
        note(f"valid step {step_no} | loss {v:.4f} | ppl {math.exp(v):.2f} | {what}")
        print(json.dumps({"type": "valid", "step": step_no, "epoch": epoch + 1, "loss": round(v, 6),
                          "ppl": round(math.exp(v), 4), "lr": lr, "tokens": tokens, "best": round(best_loss, 6),
                          "elapsed_s": round(time.time() - t0, 3)}), flush=True)
        validating += time.time() - t_valid

    stop = None
    epoch, interval_start, interval_tokens, loss_sum, loss_n = 0, time.time(), 0, 0.0, 0
    while stop is None and epoch < a.epochs:
        h = zeros(model, a.batch)
        for k, (x, y) in enumerate(windows(train, a.bptt)):
            loss, norm, h = step(x, y, h)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                sys.exit(f"torch-lm: non-finite {'loss' if not math.isfinite(loss) else 'gradient norm'} at step {step_no + 1}")
            step_no += 1
            tokens += y.numel()
            interval_tokens += y.numel()
            loss_sum, loss_n = loss_sum + loss, loss_n + 1
            epoch_end = k + 1 == per_epoch
            if a.log_every > 0 and (step_no % a.log_every == 0 or epoch_end):
                dt = time.time() - interval_start
                note(f"step {step_no} | epoch {epoch + 1} {100 * (k + 1) / per_epoch:.1f}% | loss {loss_sum / loss_n:.4f} | "
                     f"ppl {math.exp(loss_sum / loss_n):.2f} | lr {lr:.3e} | {interval_tokens / max(dt, 1e-9):.0f} tok/s")
                interval_start, interval_tokens, loss_sum, loss_n = time.time(), 0, 0.0, 0
            if (step_no % a.eval_every == 0 or epoch_end) and step_no - last_validated >= max(1, a.eval_every // 4):
                v0 = time.time()
                validate(True, epoch)
                interval_start += time.time() - v0
            if a.max_steps > 0 and step_no >= a.max_steps:
                stop = "max-steps"
            elif a.max_minutes > 0 and time.time() - t0 >= a.max_minutes * 60:
                stop = "max-minutes"
            if stop:
                break
        else:
            epoch += 1
    stop = stop or "epochs"
    if last_validated != step_no:
        validate(False, min(epoch, a.epochs - 1))
    note(f"finished ({stop}) at step {step_no} in {time.time() - t0:.1f}s")
    model.load_state_dict(best_state)
    t = evaluate(model, test, a.bptt, a.batch)
    note(f"test (best model, valid loss {best_loss:.4f}) | loss {t:.4f} | ppl {math.exp(t):.2f}")
    print(json.dumps({"type": "test", "step": step_no, "loss": round(t, 6), "ppl": round(math.exp(t), 4),
                      "best_valid_loss": round(best_loss, 6), "validation_s": round(validating, 3)}), flush=True)


# ---------------------------------------------------------------------------------------------- flags

def default_threads():
    env = os.environ.get("OPENBLAS_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0))


def positive(s):
    v = int(s)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive (got {v})")
    return v


def dropout(s):
    v = float(s)
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1) (got {v})")
    return v


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True, metavar="{bench,train}")
    b = sub.add_parser("bench", help="time the training step and print one JSON line (like `ddplm bench`)",
                       description="Time the training step (forward, backward, clipping, Adam) after --warmup steps; "
                                   "print one JSON line with the median of --steps as tokens_per_s (batch x bptt per step).")
    t = sub.add_parser("train", help="train and print the validation curve as JSON lines (like `ddplm train`)",
                       description="Train as `ddplm train` does; print each validation and the final test as JSON lines.")
    for s in (b, t):
        g = s.add_argument_group("model")
        g.add_argument("--cell", choices=list(CELLS), default="lstm", help="recurrent cell (default lstm)")
        g.add_argument("--emb", type=positive, default=100, help="embedding size E (default 100)")
        g.add_argument("--hidden", type=positive, default=100, help="hidden size H (default 100)")
        g.add_argument("--layers", type=positive, default=1, help="recurrent layers (default 1)")
        g.add_argument("--dropout", type=dropout, default=0.0,
                       help="dropout on embeddings, between layers and before the decoder (default 0.0)")
        g.add_argument("--tie-weights", action="store_true", help="tie the decoder weight to the embedding (needs --emb == --hidden)")
        g = s.add_argument_group("data")
        g.add_argument("--batch", type=positive, default=32, help="batch size B: columns of the token stream (default 32)")
        g.add_argument("--bptt", type=positive, default=50, help="window length of truncated BPTT (default 50)")
        r = s.add_argument_group("runtime")
        r.add_argument("--threads", type=positive, default=default_threads(),
                       help="torch.set_num_threads (default: $OPENBLAS_NUM_THREADS, else the cores available)")
        r.add_argument("--matmul-precision", choices=["highest", "medium"], default="highest",
                       help="highest: float32 products; medium: set_float32_matmul_precision('medium') and oneDNN bf16 "
                            "math for matmuls and RNNs (default highest)")
        r.add_argument("--seed", type=int, default=53113, help="seed for initialisation and dropout, and bench's random tokens (default 53113)")

    g = b.add_argument_group("bench")
    g.add_argument("--vocab", type=int, default=50002, help="vocabulary size V, <unk> and <pad> included (default 50002)")
    g.add_argument("--steps", type=positive, default=20, help="timed steps (default 20)")
    g.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default 3)")
    g.add_argument("--train", metavar="FILE",
                   help="read the tokens from this corpus's windows (its V - 2 most frequent words) instead of drawing them at random")

    g = t.add_argument_group("data files")
    g.add_argument("--train", metavar="FILE", help="training corpus (default: data/text8.train.txt, else the bundled data/sample)")
    g.add_argument("--valid", metavar="FILE", help="validation corpus (default: the training file's name with 'train' -> 'dev')")
    g.add_argument("--test", metavar="FILE", help="test corpus (default: the training file's name with 'train' -> 'test')")
    g.add_argument("--vocab-size", type=int, default=50000, help="most frequent training words kept in the vocabulary (default 50000)")
    g = t.add_argument_group("training")
    g.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 0.001)")
    g.add_argument("--lr-decay", type=float, default=0.5, help="learning-rate factor when a validation does not improve (default 0.5)")
    g.add_argument("--clip", type=float, default=5.0, help="global gradient-norm clip (default 5.0)")
    g.add_argument("--eval-every", type=int, default=200, help="validate every N steps, and at each epoch's end (default 200)")
    g = t.add_argument_group("stopping")
    g.add_argument("--epochs", type=positive, default=1, help="epochs over the training corpus (default 1)")
    g.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (default 0 = no limit)")
    g.add_argument("--max-minutes", "--minutes", type=float, default=0.0,
                   help="stop after this many minutes of wall time (default 0 = no limit)")
    g.add_argument("--log-every", type=int, default=20, help="progress line on stderr every N steps (default 20; 0 = none)")

    a = p.parse_args()
    (cmd_bench if a.mode == "bench" else cmd_train)(a)


if __name__ == "__main__":
    main()
