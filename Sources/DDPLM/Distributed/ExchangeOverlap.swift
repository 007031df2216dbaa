/// Whether the gradient exchange runs on its own thread during the compute (`--overlap`): the
/// reduce-scatter during the backward, the weights' all-gather during the next forward.
///
/// Between nodes the exchange mostly waits on the network, and the overlap hides that wait behind the
/// compute. Within one node there is no wire to wait for: the MPI moves the data with the CPU, copying
/// through shared memory. An exchange thread then takes those copies' time from the compute it shares
/// a core with and streams them through the caches the compute uses, so on one node the exchange runs
/// after the compute. Either way the weights are the same bits.
public enum ExchangeOverlap: String, CaseIterable, Sendable {
    /// Overlapped when the ranks span more than one node.
    case auto
    case on
    case off

    /// Whether to overlap, for ranks spread over `nodes` nodes.
    public func enabled(nodes: Int) -> Bool {
        switch self {
        case .on: true
        case .off: false
        case .auto: nodes > 1
        }
    }

    /// How the exchange of `ranks` ranks on `nodes` nodes runs and why (the start-up line of a training
    /// run); nil on one rank. `available`: the communicator offers a second channel (MPI_THREAD_MULTIPLE).
    /// `sharedWeights`: whether the ranks of one node may hold one copy of the weights (`NodeSharedWeights`).
    public func describe(ranks: Int, nodes: Int, available: Bool, sharedWeights: NodeSharedWeights = .off) -> String? {
        guard ranks > 1 else { return nil }
        let spread = "\(ranks) ranks on \(nodes) node\(nodes == 1 ? "" : "s")"
        let overlapped = available && enabled(nodes: nodes)
        let shared = sharedWeights.enabled(ranks: ranks, nodes: nodes, overlapped: overlapped)
            ? ", one copy of the weights in node-shared memory (--shared-weights off for a copy per rank)" : ""
        if !available { return spread + ", exchange after the compute (MPI offers no MPI_THREAD_MULTIPLE)" + shared }
        if overlapped {
            return spread + ", exchange overlapped with the compute (exchange thread" + (self == .on ? ", --overlap on)" : ")")
        }
        return spread + ", exchange after the compute " + (self == .off ? "(--overlap off)" : "(one node: its copies would take the compute's cores; --overlap on to overlap)") + shared
    }
}
