import DDPLM

/// One option's link to a field of the run's config: the given value is applied, to a new run's config or
/// to a resumed run's recorded one (where the library's `refuseFixedChanges` refuses a changed fixed field).
struct ConfigBinding<Root> {
    let flag: String
    /// Writes the given value (no-op when the option was not given).
    let apply: (inout Root) -> Void

    static func option<T: Equatable>(_ flag: String, _ value: T?, _ path: WritableKeyPath<Root, T>) -> ConfigBinding {
        ConfigBinding(flag: flag, apply: { root in if let value { root[keyPath: path] = value } })
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
}
