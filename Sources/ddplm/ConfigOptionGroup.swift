import ArgumentParser
import DDPLM

/// A group of `train` options that maps onto one section of the run's config (`Root`): the options are
/// bindings to its fields, and `validate()` applies them to the section's defaults and runs the
/// library's own check, so every range rule has one home.
protocol ConfigOptionGroup: ParsableArguments {
    associatedtype Root
    static var defaults: Root { get }
    var bindings: [ConfigBinding<Root>] { get }
    /// The library's check of a section.
    static func check(_ root: Root) throws
    /// Checks of options that are not part of the section (none by default).
    func checkOwnOptions() throws
}

extension ConfigOptionGroup {
    func validate() throws {
        var root = Self.defaults
        bindings.apply(to: &root)
        try Self.check(root)
        try checkOwnOptions()
    }

    func checkOwnOptions() throws {}
}
