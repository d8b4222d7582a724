/// A configuration problem, naming the key and line when it comes from a file.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var key: String?
    public var line: Int?

    public init(_ message: String, key: String? = nil, line: Int? = nil) {
        self.message = message
        self.key = key
        self.line = line
    }

    public var description: String {
        var location: [String] = []
        if let line { location.append("line \(line)") }
        if let key { location.append("key '\(key)'") }
        return location.isEmpty ? message : "\(location.joined(separator: ", ")): \(message)"
    }
}
