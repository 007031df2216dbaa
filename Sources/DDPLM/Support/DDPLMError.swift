/// Every failure a user can cause or meet is one of these: a single line that says what went wrong and,
/// where there is one, what to do about it. The CLI prints `description` and exits non-zero.
public struct DDPLMError: Error, CustomStringConvertible, Equatable {
    let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
