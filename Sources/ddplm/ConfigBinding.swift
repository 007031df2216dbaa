import DDPLM

/// One option's link to a field of the run's config: a new run applies the given value; a resumed run
/// accepts it when it equals the recorded one and refuses it, naming both, when it does not.
struct ConfigBinding<Root> {
    let flag: String
    /// Writes the given value (no-op when the option was not given).
    let apply: (inout Root) -> Void
    /// "recorded R, given G" when the option was given with a value that differs from the recorded one.
    let conflict: (Root) -> String?

    static func option<T: Equatable>(_ flag: String, _ value: T?, _ path: WritableKeyPath<Root, T>) -> ConfigBinding {
        ConfigBinding(flag: flag,
                      apply: { root in if let value { root[keyPath: path] = value } },
                      conflict: { root in
                          guard let value, root[keyPath: path] != value else { return nil }
                          return "the run has \(flag) \(root[keyPath: path]), this command gives \(value)"
                      })
    }

    /// A switch: only its presence (true) is an instruction.
    static func flag(_ flag: String, _ on: Bool, _ path: WritableKeyPath<Root, Bool>) -> ConfigBinding {
        option(flag, on ? true : nil, path)
    }
}

extension Array {
    func apply<Root>(to root: inout Root) where Element == ConfigBinding<Root> {
        for b in self { b.apply(&root) }
    }

    /// Throws for the first given option whose value differs from the run's recorded one.
    func refuseChanges<Root>(from recorded: Root, run: String) throws where Element == ConfigBinding<Root> {
        for b in self {
            if let why = b.conflict(recorded) {
                throw DDPLMError("\(b.flag) cannot change when resuming: \(why) (fixed in \(run)/config.json; only the stop and logging options and the runtime ones (--threads, --matmul-precision, --hang-timeout, --no-blas-autoselect) may change)")
            }
        }
    }
}
