"""Runs the reference PyTorch program (../shared/bench/torch_ref.py, or any script) with PyTorch's float32
matmul precision set first: what ddplm's --matmul-precision medium compares against.

    python launch/torch-matmul-precision.py medium ../shared/bench/torch_ref.py bench --train FILE ...

"medium" is torch.set_float32_matmul_precision("medium") plus oneDNN's bf16 fp32-math mode for matmuls
and RNNs (torch.backends.mkldnn.{matmul,rnn}.fp32_precision = "bf16", where this PyTorch has them):
float32 tensors whose products may run with bfloat16 inputs, as ddplm's medium does.
"""
import runpy
import sys

import torch

precision, script, args = sys.argv[1], sys.argv[2], sys.argv[3:]
torch.set_float32_matmul_precision(precision)
if precision == "medium":
    for backend in ("matmul", "rnn"):
        try:
            setattr(getattr(torch.backends.mkldnn, backend), "fp32_precision", "bf16")
        except (AttributeError, RuntimeError) as e:
            print(f"torch-matmul-precision: torch.backends.mkldnn.{backend}.fp32_precision not set: {e}", file=sys.stderr)
sys.argv = [script] + args
runpy.run_path(script, run_name="__main__")
