/// A dotted topic pattern: `incident.created`, `unit.*.position`, `incident.>`.
///
/// `*` matches exactly one token, `>` (last token only) matches one or more tokens.
/// Used for subscriptions and for ACL entries alike.
public struct TopicPattern: Hashable, Sendable, CustomStringConvertible {
    public let tokens: [Substring]
    public let text: String

    public init(_ text: String) throws(ConfigError) {
        guard let tokens = TopicPattern.tokenize(text, allowWildcards: true) else {
            throw ConfigError("invalid topic pattern \"\(text)\": tokens are non-empty, separated by '.', '>' only last")
        }
        self.text = text
        self.tokens = tokens
    }

    public var description: String { text }
    public var hasWildcards: Bool { tokens.contains { $0 == "*" || $0 == ">" } }

    /// Whether a concrete topic (no wildcards) is valid. Runs on every publish, so it
    /// scans the UTF-8 bytes once without allocating.
    public static func isValidTopic(_ topic: String) -> Bool {
        if let valid = topic.utf8.withContiguousStorageIfAvailable(isValidTopicBytes) { return valid }
        return Array(topic.utf8).withUnsafeBufferPointer(isValidTopicBytes)
    }

    private static func isValidTopicBytes(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 255 else { return false }
        var tokenLength = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "."):
                if tokenLength == 0 { return false }
                tokenLength = 0
            case UInt8(ascii: "*"), UInt8(ascii: ">"), UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                return false
            default:
                tokenLength += 1
            }
        }
        return tokenLength > 0
    }

    static func tokenize(_ text: String, allowWildcards: Bool) -> [Substring]? {
        guard !text.isEmpty, text.utf8.count <= 255 else { return nil }
        let tokens = text.split(separator: ".", omittingEmptySubsequences: false)
        for (index, token) in tokens.enumerated() {
            if token.isEmpty { return nil }
            if token.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) { return nil }
            let isWildcard = token == "*" || token == ">"
            if !isWildcard && token.utf8.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: ">") }) { return nil }
            if isWildcard && !allowWildcards { return nil }
            if token == ">" && index != tokens.count - 1 { return nil }
        }
        return tokens
    }

    /// Whether the concrete `topic` matches this pattern.
    public func matches(_ topic: String) -> Bool {
        matches(tokens: topic.split(separator: ".", omittingEmptySubsequences: false))
    }

    public func matches<C: Collection>(tokens topic: C) -> Bool where C.Element == Substring {
        var index = topic.startIndex
        for token in tokens {
            if token == ">" { return index != topic.endIndex }
            guard index != topic.endIndex else { return false }
            if token != "*" && token != topic[index] { return false }
            index = topic.index(after: index)
        }
        return index == topic.endIndex
    }

    /// Whether every topic matched by `other` is also matched by this pattern
    /// (an ACL entry `incident.>` covers a subscription to `incident.*`).
    public func covers(_ other: TopicPattern) -> Bool {
        var index = other.tokens.startIndex
        for token in tokens {
            if token == ">" { return index != other.tokens.endIndex }
            guard index != other.tokens.endIndex else { return false }
            let theirs = other.tokens[index]
            if theirs == ">" { return false }
            if token != "*" && (theirs == "*" || token != theirs) { return false }
            index += 1
        }
        return index == other.tokens.endIndex
    }
}

/// A service ACL entry: an exact method path, a prefix ending in `*`
/// (`/xunfang.dispatch.v1.Dispatch/*`), or `*` for every method.
public struct MethodPattern: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) throws(ConfigError) {
        guard text == "*" || (text.hasPrefix("/") && !text.dropLast().contains("*")) else {
            throw ConfigError("invalid method pattern \"\(text)\": use /package.Service/Method, /package.Service/* or *")
        }
        self.text = text
    }

    public var description: String { text }

    public func matches(_ method: String) -> Bool {
        if text.hasSuffix("*") { return method.hasPrefix(text.dropLast()) }
        return method == text
    }

    /// Whether a method path is well formed: `/package.Service/Method`.
    /// One pass over the bytes: the bus asks this of every call it has not seen before.
    public static func isValidMethod(_ method: String) -> Bool {
        let bytes = method.utf8
        guard bytes.count <= 255, bytes.first == UInt8(ascii: "/") else { return false }
        var slashes = 0
        var segment = 0
        for byte in bytes.dropFirst() {
            switch byte {
            case UInt8(ascii: "*"):
                return false
            case UInt8(ascii: "/"):
                guard segment > 0 else { return false }
                slashes += 1
                segment = 0
            default:
                segment += 1
            }
        }
        return slashes == 1 && segment > 0
    }
}
