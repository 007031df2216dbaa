import ArgumentParser
import DDPLM
import Foundation

struct DDPLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddplm",
        abstract: "Data-parallel trainer for recurrent language models (LSTM/GRU/RNN) and text classifiers (WordAVG/BiLSTM/CNN) on MPI and OpenBLAS.",
        discussion: """
        One binary: run alone it trains in one process; under `mpirun -np N` or `srun --mpi=pmix` every rank \
        trains on its own contiguous shard of the batch columns, and the gradients are summed across ranks \
        before clipping and Adam, so all ranks take the identical step. Checkpoints are PyTorch-compatible \
        safetensors; a run resumes bit-identically.

        Examples:
          ddplm train --out runs/first                 # text8, else the sample
          mpirun -np 2 ddplm train --out runs/two      # 2 ranks, global batch 32
          ddplm train --resume runs/first --epochs 3   # continue
          ddplm info runs/first                        # what a run holds
          ddplm plot runs/first runs/two --out c.svg   # learning curves
          ddplm eval --checkpoint runs/first --split valid
          ddplm generate --checkpoint runs/first --words 50 --prompt "the city"
          ddplm bench --gemm
          ddplm classify train --model cnn --out runs/cnn  # aclImdb, else the sample
        """,
        version: Version.string,
        subcommands: [TrainCommand.self, ClassifyCommand.self, EvalCommand.self, GenerateCommand.self, PlotCommand.self, BenchCommand.self, CompareCommand.self, InfoCommand.self]
    )
}
