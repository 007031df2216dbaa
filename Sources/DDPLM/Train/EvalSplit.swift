/// The held-out splits a task evaluates.
enum EvalSplit: String, Sendable { case valid, test }
