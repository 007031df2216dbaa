import Glibc

/// One process: rank 0 of 1, every collective a no-op.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var nodes: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws {}
    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {}
    public func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {}
    public func reduceScatterSumBF16(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {}
    public func makeExchangeChannel() -> ExchangeChannel? { nil }
    public func allGather(_ buffer: UnsafeMutablePointer<Float>, countPerRank: Int, stride: Int) throws {}
    public func barrier() throws {}
    public func abort(code: Int32) -> Never { exit(code) }
}
