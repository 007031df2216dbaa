/// ddplm's version: `ddplm --version`, `ddplm info` and CHANGELOG.md's newest heading name this one.
public enum Version {
    public static let string = "0.9.0"
}
