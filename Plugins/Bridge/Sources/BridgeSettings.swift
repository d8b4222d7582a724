import Foundation
public import XunfangPluginKit
public import XunfangNATS

/// What the bridge links, read from its settings (the `env:` map of its county config entry).
/// Pure: parsed and checked without a socket, every refusal naming the key.
public struct BridgeSettings: Sendable, Equatable {
    /// What crosses by default (issue 19): incidents and their outcomes, the four colours and
    /// warnings, checkpoint status and seal boards.
    public static let defaultExports = ["incident.>", "situation.colours", "situation.warning", "checkpoint.status", "checkpoint.seal"]

    public var county: String
    public var servers: [NATSServerAddress]
    public var stream = "XUNFANG"
    public var replicas = 1
    public var duplicateWindow: Duration = .seconds(120)
    public var maxAge: Duration = .seconds(7 * 86_400)
    public var exports: [String] = defaultExports
    public var imports: [ImportRule] = []
    public var user: String?
    public var password: String?
    public var token: String?
    public var trustRoots: String?
    /// Units lent across the border, whose positions cross (`unit.position`), thinned.
    public var lentUnits: Set<String> = []
    public var positionEverySeconds = 30.0
    /// Methods other counties may call on this bus through the bridge (exact paths, or
    /// prefixes ending in `*`); none by default.
    public var answers: [String] = []

    /// Messages from JetStream subjects `xunfang.<county>.<topic>` published on this bus
    /// as `<topic>`. `county` nil: from every county but this one.
    public struct ImportRule: Sendable, Hashable {
        public var county: String?
        public var topicPattern: String

        public var subject: String { "xunfang.\(county ?? "*").\(topicPattern)" }

        /// The durable consumer's name: this county and the rule, stable across restarts
        /// and reorderings of the list (JetStream names may not hold `.`, `*` or `>`).
        public func consumer(for ownCounty: String) -> String {
            let tokens = subject.split(separator: ".").dropFirst().map { $0 == "*" ? "any" : $0 == ">" ? "all" : String($0) }
            let readable = tokens.joined(separator: "_").map { "abcdefghijklmnopqrstuvwxyz0123456789-_".contains($0) ? $0 : "_" }
            return "\(ownCounty)__\(String(readable))"
        }
    }

    public static func subject(county: String, topic: String) -> String { "xunfang.\(county).\(topic)" }

    /// Calls from `caller` to `callee` go on a subject in the caller's own namespace, so NATS
    /// permissions that let a county publish only `xunfang-call.<itself>.>` also prove who
    /// asks; outside `xunfang.>`, so the stream neither stores nor acknowledges them.
    public static func callSubject(from caller: String, to callee: String) -> String { "xunfang-call.\(caller).\(callee)" }

    public func answers(_ method: String) -> Bool {
        answers.contains { $0.hasSuffix("*") ? method.hasPrefix($0.dropLast()) : $0 == method }
    }

    public init(county: String, servers: [NATSServerAddress]) {
        self.county = county
        self.servers = servers
    }

    /// - `BRIDGE_COUNTY`: this county's token in subjects (lower-case letters, digits, `-`).
    /// - `BRIDGE_NATS`: the NATS servers, comma-separated (`nats://host:port`, `tls://host:port`).
    /// - `BRIDGE_EXPORT`: bus topic patterns mirrored out, comma-separated (default `defaultExports`; `none` for nothing).
    /// - `BRIDGE_IMPORT`: `county:topic-pattern` rules mirrored in (`*:incident.>` from every other county).
    /// - `BRIDGE_STREAM` (default XUNFANG), `BRIDGE_REPLICAS` (1-5), `BRIDGE_DUPLICATE_WINDOW_SECONDS` (default 120),
    ///   `BRIDGE_MAX_AGE_HOURS` (default 168): the JetStream stream, created if absent.
    /// - `BRIDGE_ANSWER`: methods other counties may call here through `Bridge/Call`, comma-separated
    ///   (`/xunfang.dispatch.v1.Dispatch/Recommend`, or a prefix ending in `*`); none by default.
    /// - `BRIDGE_LENT_UNITS`: call signs of units lent across the border: their `unit.position` crosses (and only theirs),
    ///   at most once per `BRIDGE_POSITION_EVERY_SECONDS` (default 30) each.
    /// - `BRIDGE_NATS_USER` + `BRIDGE_NATS_PASSWORD_FILE`, or `BRIDGE_NATS_TOKEN_FILE` (files readable by the owner only);
    ///   `BRIDGE_NATS_CA`: a PEM file of roots for tls:// servers.
    public init(context: PluginContext) throws(SettingError) {
        let settings = context.settings
        guard let county = settings["BRIDGE_COUNTY"]?.trimmingCharacters(in: .whitespaces), Self.isCountyToken(county) else {
            throw SettingError("BRIDGE_COUNTY is \"\(settings["BRIDGE_COUNTY"] ?? "")\"; name this county in subjects with lower-case letters, digits and '-' (at most 32)")
        }
        let serverList = Self.list(settings["BRIDGE_NATS"])
        guard !serverList.isEmpty else { throw SettingError("BRIDGE_NATS is empty; list the NATS servers, e.g. nats://10.1.0.5:4222,nats://10.1.0.6:4222") }
        var servers: [NATSServerAddress] = []
        for text in serverList {
            do { servers.append(try NATSServerAddress(parsing: text)) } catch { throw SettingError("BRIDGE_NATS: \(error.message)") }
        }
        self.init(county: county, servers: servers)
        stream = settings["BRIDGE_STREAM"].flatMap { $0.isEmpty ? nil : $0 } ?? "XUNFANG"
        guard stream.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), stream.count <= 64 else {
            throw SettingError("BRIDGE_STREAM is \"\(stream)\"; use letters, digits, '-' and '_' (at most 64)")
        }
        replicas = Int(try context.number("BRIDGE_REPLICAS", in: 1...5, default: 1, unit: "copies"))
        duplicateWindow = .seconds(try context.number("BRIDGE_DUPLICATE_WINDOW_SECONDS", in: 1...86_400, default: 120, unit: "seconds"))
        maxAge = .seconds(3_600 * (try context.number("BRIDGE_MAX_AGE_HOURS", in: 1...8_760, default: 168, unit: "hours")))
        if let exportText = settings["BRIDGE_EXPORT"] {
            exports = exportText.trimmingCharacters(in: .whitespaces) == "none" ? [] : Self.list(exportText)
            for pattern in exports where !Self.isTopicPattern(pattern) {
                throw SettingError("BRIDGE_EXPORT: \"\(pattern)\" is not a topic pattern (tokens, '*', a final '>')")
            }
        }
        imports = try Self.list(settings["BRIDGE_IMPORT"]).map(Self.importRule)
        lentUnits = Set(Self.list(settings["BRIDGE_LENT_UNITS"]))
        positionEverySeconds = try context.number("BRIDGE_POSITION_EVERY_SECONDS", in: 1...3_600, default: 30, unit: "seconds")
        answers = Self.list(settings["BRIDGE_ANSWER"])
        for method in answers where !(method.hasPrefix("/") && (method.firstIndex(of: "*") == nil || method.firstIndex(of: "*") == method.index(before: method.endIndex))) {
            throw SettingError("BRIDGE_ANSWER: \"\(method)\" is not a method path (/package.Service/Method, or a prefix ending in *)")
        }
        if !lentUnits.isEmpty, !exports.contains(where: { Subject.matches($0, "unit.position") }) { exports.append("unit.position") }
        user = settings["BRIDGE_NATS_USER"].flatMap { $0.isEmpty ? nil : $0 }
        password = try context.secret(fromFileIn: "BRIDGE_NATS_PASSWORD_FILE")
        token = try context.secret(fromFileIn: "BRIDGE_NATS_TOKEN_FILE")
        guard (user == nil) == (password == nil) else { throw SettingError("BRIDGE_NATS_USER and BRIDGE_NATS_PASSWORD_FILE go together") }
        trustRoots = settings["BRIDGE_NATS_CA"].flatMap { $0.isEmpty ? nil : $0 }
        if let trustRoots, !FileManager.default.isReadableFile(atPath: trustRoots) {
            throw SettingError("BRIDGE_NATS_CA: cannot read \(trustRoots)")
        }
    }

    static func importRule(_ text: String) throws(SettingError) -> ImportRule {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "*" || isCountyToken(parts[0]), isTopicPattern(parts[1]) else {
            throw SettingError("BRIDGE_IMPORT: \"\(text)\" is not county:topic-pattern (e.g. city:checkpoint.seal or *:incident.>)")
        }
        return ImportRule(county: parts[0] == "*" ? nil : parts[0], topicPattern: parts[1])
    }

    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func isCountyToken(_ text: String) -> Bool {
        (1...32).contains(text.count) && text.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    static func isTopicPattern(_ text: String) -> Bool {
        (try? Subject.validate(text, wildcards: true)) != nil && text.utf8.count <= 255
    }
}
