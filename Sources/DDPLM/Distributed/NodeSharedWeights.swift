/// Whether N ranks on one node hold one copy of the weights and Adam's moments, in memory every rank
/// maps (`--shared-weights`), instead of a copy each.
///
/// With a copy each, the step ends with an all-gather: every rank copies every other rank's updated
/// shard into its own weights. Shared, each rank's Adam writes its shard (and its rows of the
/// replicated embedding table) where every rank reads them, and the all-gather becomes a barrier; the
/// checkpoints' gather of the moments goes too, and the node holds the weights and moments once. Each
/// rank's gradient lives in shared memory as well (`sumsGradients`): after a barrier, each rank sums its
/// shard straight from every rank's gradient, in the ring's order, instead of the ring passing partial
/// sums along. The sums are the ring's, so the weights are the same bits either way.
/// A vocab-split decoder's rows are written by their owner where every rank reads them, so they need no
/// gathering either. Across nodes the weights must travel anyway; the overlapped exchange
/// (`ExchangeOverlap`) moves them there.
public enum NodeSharedWeights: String, CaseIterable, Sendable {
    /// Shared when every rank is on one node and the exchange runs after the compute.
    case auto
    case off

    /// Whether `ranks` ranks on `nodes` nodes share their weights (the communicator must still be able
    /// to allocate the memory: `Communicator.allocateNodeShared`).
    public func enabled(ranks: Int, nodes: Int, overlapped: Bool) -> Bool {
        self == .auto && ranks > 1 && nodes == 1 && !overlapped
    }

    /// Whether shared weights also sum the gradients from shared memory: with the fp32 wire (the bf16
    /// wire's roundings are the ring's own), for up to `maxSummedRanks` ranks.
    static func sumsGradients(wire: GradientWire, ranks: Int) -> Bool { wire == .fp32 && ranks <= maxSummedRanks }

    /// The most ranks whose gradients `ddplm_sum_ordered_parts` adds in one pass.
    static let maxSummedRanks = 64
}
