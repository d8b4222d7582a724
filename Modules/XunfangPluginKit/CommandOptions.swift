/// `--name value` pairs of a command line, each name one of `allowed`; nil for anything
/// else (an unknown name, a name without its value), so the command prints its usage.
public func commandOptions(_ arguments: [String], allowed: Set<String>) -> [String: String]? {
    var options: [String: String] = [:]
    var index = 0
    while index < arguments.count {
        guard allowed.contains(arguments[index]), index + 1 < arguments.count else { return nil }
        // Typed on purpose: TOMLKit (loaded under XunfangConfig) lends [String: String] a
        // settable String subscript of its own, which an untyped assignment picks and drops.
        let name: String = arguments[index], value: String = arguments[index + 1]
        options.updateValue(value, forKey: name)
        index += 2
    }
    return options
}
