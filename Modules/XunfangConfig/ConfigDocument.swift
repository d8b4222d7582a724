import Foundation
import TOMLKit
import Yams

/// A config document reduced to what the loader reads, whatever its syntax, with the
/// line each part came from so errors can point at it.
enum ConfigNode {
    struct Pair {
        var key: String
        var value: ConfigNode
        var line: Int?
    }

    struct Scalar {
        var text: String
        var bool: Bool?
        var int: Int?
    }

    case mapping([Pair], line: Int?)
    case sequence([ConfigNode], line: Int?)
    case scalar(Scalar, line: Int?)

    var line: Int? {
        switch self {
        case .mapping(_, let line), .sequence(_, let line), .scalar(_, let line): line
        }
    }
}

enum YAMLDocument {
    /// A county config is a few kilobytes; these bounds keep a hostile one from costing more.
    static let maxBytes = 1 << 20
    static let maxFlowDepth = 32

    static func read(_ text: String) throws(ConfigError) -> ConfigNode {
        try checkBounds(text)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ConfigError("the config is empty") }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError("not valid YAML: \(error)")
        }
        return try convert(root)
    }

    /// Refuses, before any YAML is composed, what would make composing it explode: a file
    /// over `maxBytes`, anchors and aliases (a dozen lines of nested aliases expand to
    /// gigabytes), and `[`/`{` nested deeper than `maxFlowDepth`. Quoted strings and
    /// comments are skipped, so `"*"` and `'&'` stay ordinary text.
    static func checkBounds(_ text: String) throws(ConfigError) {
        guard text.utf8.count <= maxBytes else { throw ConfigError("the config is larger than \(maxBytes / 1024) KiB") }
        let bytes = Array(text.utf8)
        var line = 1
        var depth = 0
        var quote: UInt8?
        var inComment = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let previous: UInt8 = index == 0 ? 0x0A : bytes[index - 1]
            index += 1
            if byte == 0x0A {
                line += 1
                inComment = false
                continue
            }
            if inComment { continue }
            if let open = quote {
                if open == 0x22 && byte == 0x5C {
                    index += 1                                                 // \x inside "..."
                } else if open == 0x27 && byte == 0x27 && index < bytes.count && bytes[index] == 0x27 {
                    index += 1                                                 // '' inside '...'
                } else if byte == open {
                    quote = nil
                }
                continue
            }
            let tokenStart = [0x0A, 0x20, 0x09, 0x5B, 0x7B, 0x2C, 0x3A, 0x2D].contains(previous)
            switch byte {
            case 0x23 where tokenStart: inComment = true                       // #
            case 0x22 where tokenStart, 0x27 where tokenStart: quote = byte    // " '
            case 0x26 where tokenStart, 0x2A where tokenStart:                 // & *
                throw ConfigError("YAML anchors and aliases are not supported in a county config", line: line)
            case 0x5B, 0x7B:                                                   // [ {
                depth += 1
                if depth > maxFlowDepth { throw ConfigError("lists and maps nest deeper than \(maxFlowDepth)", line: line) }
            case 0x5D, 0x7D: depth = max(0, depth - 1)                         // ] }
            default: break
            }
        }
    }

    private static func convert(_ node: Node) throws(ConfigError) -> ConfigNode {
        let line = node.mark?.line
        switch node {
        case .mapping(let mapping):
            var pairs: [ConfigNode.Pair] = []
            for (key, value) in mapping {
                guard let name = key.string else { throw ConfigError("keys must be strings", line: key.mark?.line) }
                pairs.append(.init(key: name, value: try convert(value), line: key.mark?.line))
            }
            return .mapping(pairs, line: line)
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            for item in sequence { items.append(try convert(item)) }
            return .sequence(items, line: line)
        case .scalar(let scalar):
            return .scalar(.init(text: scalar.string, bool: node.bool, int: node.int), line: line)
        case .alias:
            throw ConfigError("YAML aliases are not supported in a county config", line: line)
        }
    }
}

/// TOML through TOMLKit (toml++). TOMLKit keeps no positions for values, so lines come
/// from a scan of the text that follows table headers and `key =` lines.
enum TOMLDocument {
    static func read(_ text: String) throws(ConfigError) -> ConfigNode {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("not valid TOML: \(error.description)", line: error.source.begin.line)
        } catch {
            throw ConfigError("not valid TOML: \(error)")
        }
        let lines = TOMLLineIndex(text)
        return try convert(table.tomlValue, path: "", lines: lines)
    }

    private static func convert(_ value: TOMLValue, path: String, lines: TOMLLineIndex) throws(ConfigError) -> ConfigNode {
        let line = lines.line(of: path)
        switch value.type {
        case .table:
            guard let table = value.table else { return .mapping([], line: line) }
            var pairs: [ConfigNode.Pair] = []
            for key in table.keys {
                guard let child = table[key]?.tomlValue else { continue }
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                pairs.append(.init(key: key, value: try convert(child, path: childPath, lines: lines), line: lines.line(of: childPath)))
            }
            return .mapping(pairs, line: line)
        case .array:
            var items: [ConfigNode] = []
            for (index, item) in (value.array ?? TOMLArray()).enumerated() {
                items.append(try convert(item.tomlValue, path: "\(path)[\(index)]", lines: lines))
            }
            return .sequence(items, line: line)
        case .string:
            return .scalar(.init(text: value.string ?? ""), line: line)
        case .int:
            let number = value.int
            return .scalar(.init(text: number.map(String.init) ?? "", int: number), line: line)
        case .bool:
            let flag = value.bool
            return .scalar(.init(text: flag.map { String($0) } ?? "", bool: flag), line: line)
        case .double, .date, .time, .dateTime:
            return .scalar(.init(text: value.debugDescription), line: line)
        }
    }
}

/// Maps key paths (`bus.tcp`, `plugins[1].acl.publish`) to the line that sets them.
struct TOMLLineIndex {
    private var lines: [String: Int] = [:]

    init(_ text: String) {
        var table = ""
        var arrayCounts: [String: Int] = [:]
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[[") {
                let name = Self.dottedKey(line.dropFirst(2).prefix { $0 != "]" })
                let index = arrayCounts[name, default: 0]
                arrayCounts[name] = index + 1
                // Headers of sub-tables like [plugins.acl] refer to the newest element.
                table = "\(name)[\(index)]"
                record(name, number)
                record(table, number)
            } else if line.hasPrefix("[") {
                let name = Self.dottedKey(line.dropFirst().prefix { $0 != "]" })
                table = resolve(name, arrayCounts: arrayCounts)
                record(table, number)
            } else if let equals = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = Self.dottedKey(line[..<equals])
                guard !key.isEmpty else { continue }
                record(table.isEmpty ? key : "\(table).\(key)", number)
            }
        }
    }

    /// The line of `path`, or of the nearest enclosing key that has one (inline tables).
    func line(of path: String) -> Int? {
        var current = Substring(path)
        while !current.isEmpty {
            if let line = lines[String(current)] { return line }
            guard let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            current = current[..<cut]
        }
        return nil
    }

    private mutating func record(_ path: String, _ line: Int) {
        if lines[path] == nil { lines[path] = line }
    }

    /// `plugins.acl` after two `[[plugins]]` headers means `plugins[1].acl`.
    private func resolve(_ name: String, arrayCounts: [String: Int]) -> String {
        var resolved: [String] = []
        for part in name.split(separator: ".") {
            resolved.append(String(part))
            let prefix = resolved.joined(separator: ".")
            if let count = arrayCounts[prefix.replacingOccurrences(of: #"\[\d+\]"#, with: "", options: .regularExpression)] {
                resolved[resolved.count - 1] += "[\(count - 1)]"
            }
        }
        return resolved.joined(separator: ".")
    }

    private static func dottedKey(_ text: Substring) -> String {
        text.split(separator: ".")
            .map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) }
            .joined(separator: ".")
    }
}
