/// A collective that made no progress for the hang timeout: some rank stopped, hung or was lost. The
/// communicator throws it; the training loop adds the step, and the job ends with MPI_Abort.
public struct CollectiveTimeout: Error, CustomStringConvertible {
    public let seconds: Double
    /// What was being exchanged ("the gradient exchange", "an all-reduce", …).
    public let operation: String
    /// The ranks this rank was waiting for, or nil when the collective cannot tell.
    public let waitingFor: [Int]?

    public init(seconds: Double, operation: String, waitingFor: [Int]?) {
        self.seconds = seconds
        self.operation = operation
        self.waitingFor = waitingFor
    }

    public var description: String {
        let who = waitingFor.map { $0.count == 1 ? "rank \($0[0])" : "ranks \($0.map(String.init).joined(separator: ", "))" } ?? "another rank"
        return "no progress for \(Format.duration(seconds)) in \(operation): waiting for \(who) (stopped, hung or lost?); ending the job (--hang-timeout)"
    }
}
