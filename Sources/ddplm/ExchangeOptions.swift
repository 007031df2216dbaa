import ArgumentParser
import DDPLM

/// How the gradient exchange meets the compute: an option of the commands that train (`train`,
/// `classify train`, `bench`). It never changes the weights, so a resumed run may change it.
struct ExchangeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Overlap the gradient exchange with the compute on N ranks: auto, on or off (default: auto, on when the ranks span more than one node).",
                               discussion: "Overlapped, an exchange thread runs the reduce-scatter during the backward and the weights' all-gather during the next forward, hiding the network's time. On one node the MPI copies through shared memory with the same cores that compute, so auto runs the exchange after the compute there; on to overlap anyway (a node with cores to spare), off to measure what the overlap hides."))
    var overlap: ExchangeOverlap = .auto

    @Option(help: ArgumentHelp("Ranks on one node hold one copy of the weights and Adam's moments: auto or off (default: auto, when every rank is on one node and the exchange runs after the compute).",
                               discussion: "Shared, each rank's optimizer writes its shard where every rank reads it, so the weights' all-gather and a copy per rank of the weights and moments go; each rank sums its shard of the gradients from every rank's in the ring's order, and the ranks pack the weights together (bf16 tiles with --matmul-precision medium, the recurrent weights' float32 panels otherwise). The weights are the same bits. off keeps a copy per rank. An MPI that cannot allocate the memory, or a /dev/shm without room for it (a container's 64 MB), gets a copy per rank, with a note."))
    var sharedWeights: NodeSharedWeights = .auto
}
