import ArgumentParser
import DDPLM
import Foundation

struct DDPLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddplm",
        abstract: "Data-parallel trainer for recurrent language models (LSTM/GRU/RNN) on OpenMPI and OpenBLAS.",
        discussion: """
        One binary: run alone it trains in one process; under `mpirun -np N` every rank trains on its own \
        contiguous shard of the batch columns and gradients are all-reduced before clipping and Adam, so \
        all ranks take the identical step. Checkpoints are PyTorch-compatible safetensors.

        Examples:
          ddplm train --out runs/first        # data/text8.*.txt, else data/sample
          mpirun -np 2 ddplm train --out runs/two    # 2 ranks, global batch 32
          ddplm eval --checkpoint runs/first --split valid
          ddplm generate --checkpoint runs/first --words 50 --prompt "the city"
          ddplm bench --gemm
        """,
        subcommands: [TrainCommand.self, EvalCommand.self, GenerateCommand.self, PlotCommand.self, BenchCommand.self, CompareCommand.self, InfoCommand.self]
    )
}
