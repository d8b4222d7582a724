import Foundation

/// Reads a county config from YAML or TOML, rejecting unknown keys and wrong types with
/// the key path and line, so a typo in `county.yaml` is found before anything starts.
public enum ConfigLoader {
    /// Reads `path`; a `.toml` file is TOML, anything else YAML.
    public static func load(path: String) throws(ConfigError) -> CountyConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("cannot read config file \(path)")
        }
        var config = path.lowercased().hasSuffix(".toml") ? try parse(toml: text) : try parse(yaml: text)
        // Relative data directories are relative to the config file, not the caller's cwd.
        if !config.dataDirectory.hasPrefix("/") {
            let base = URL(fileURLWithPath: path).deletingLastPathComponent()
            config.dataDirectory = base.appendingPathComponent(config.dataDirectory).standardizedFileURL.path
        }
        return config
    }

    public static func parse(yaml text: String) throws(ConfigError) -> CountyConfig {
        try parse(document: YAMLDocument.read(text))
    }

    public static func parse(toml text: String) throws(ConfigError) -> CountyConfig {
        try parse(document: TOMLDocument.read(text))
    }

    static func parse(document root: ConfigNode) throws(ConfigError) -> CountyConfig {
        let top = try MappingReader(root, path: "")
        try top.allowOnly(["county", "data_dir", "bus", "plugins", "clients"])
        var config = CountyConfig(
            county: try top.string("county") ?? "Unnamed county",
            dataDirectory: try top.string("data_dir") ?? "data",
            principals: [])
        if let busNode = top["bus"] {
            config.bus = try parseBus(MappingReader(busNode, path: "bus"))
        }
        for (section, supervised) in [("plugins", true), ("clients", false)] {
            guard let list = top[section] else { continue }
            guard case .sequence(let items, _) = list else {
                throw ConfigError("expected a list", key: section, line: list.line)
            }
            for (index, item) in items.enumerated() {
                let principal = try parsePrincipal(MappingReader(item, path: "\(section)[\(index)]"), supervised: supervised)
                if config.principal(named: principal.name) != nil {
                    throw ConfigError("duplicate name \"\(principal.name)\"", key: "\(section)[\(index)].name", line: item.line)
                }
                config.principals.append(principal)
            }
        }
        return config
    }

    static func parseBus(_ bus: MappingReader) throws(ConfigError) -> BusSettings {
        try bus.allowOnly(["socket", "tcp", "tls_certificate", "tls_private_key", "durable_topics", "max_frame_bytes",
                           "max_decompressed_bytes", "ping_interval_ms", "subscriber_queue_limit", "session_buffer_bytes", "total_buffer_bytes",
                           "durable_in_flight_limit", "max_request_timeout_ms", "segment_bytes", "durable_cache_messages", "metrics",
                           "retention", "allow_plaintext_tcp", "allow_open_metrics"])
        var settings = BusSettings()
        if let value = try bus.string("socket") { settings.socketPath = value }
        settings.tcpListen = try bus.string("tcp")
        settings.tlsCertificate = try bus.string("tls_certificate")
        settings.tlsPrivateKey = try bus.string("tls_private_key")
        if (settings.tlsCertificate == nil) != (settings.tlsPrivateKey == nil) {
            throw ConfigError("tls_certificate and tls_private_key go together", key: "bus.tls_certificate", line: bus.line)
        }
        settings.metricsListen = try bus.string("metrics")
        // Credentials cross a plain TCP link in clear, and metrics have no login: off the
        // machine only when the county says so in so many words.
        if let tcp = settings.tcpListen, settings.tlsCertificate == nil, !BusSettings.isLoopback(tcp), try bus.bool("allow_plaintext_tcp") != true {
            throw ConfigError("\(tcp) is reachable from other machines without TLS: set tls_certificate and tls_private_key, "
                              + "listen on 127.0.0.1, or set allow_plaintext_tcp: true", key: "bus.tcp", line: bus.line)
        }
        if let metrics = settings.metricsListen, !BusSettings.isLoopback(metrics), try bus.bool("allow_open_metrics") != true {
            throw ConfigError("\(metrics) would show the bus's metrics to other machines without a login: listen on 127.0.0.1 "
                              + "(and scrape through a proxy that authenticates), or set allow_open_metrics: true", key: "bus.metrics", line: bus.line)
        }
        settings.durableTopics = try bus.topicPatterns("durable_topics")
        if let v = try bus.int("max_frame_bytes", in: 1_024...256 * 1024 * 1024) { settings.maxFrameBytes = v }
        if let v = try bus.int("max_decompressed_bytes", in: 1_024...1024 * 1024 * 1024) { settings.maxDecompressedBytes = v }
        if let v = try bus.int("ping_interval_ms", in: 100...600_000) { settings.pingIntervalMilliseconds = v }
        if let v = try bus.int("subscriber_queue_limit", in: 1...10_000_000) { settings.subscriberQueueLimit = v }
        if let v = try bus.int("session_buffer_bytes", in: 64 * 1024...64 * 1024 * 1024 * 1024) { settings.sessionBufferBytes = v }
        if let v = try bus.int("total_buffer_bytes", in: 64 * 1024...256 * 1024 * 1024 * 1024) { settings.totalBufferBytes = v }
        if let v = try bus.int("durable_in_flight_limit", in: 1...1_000_000) { settings.durableInFlightLimit = v }
        if let v = try bus.int("max_request_timeout_ms", in: 1...3_600_000) { settings.maxRequestTimeoutMilliseconds = v }
        if let v = try bus.int("segment_bytes", in: 4_096...4 * 1024 * 1024 * 1024) { settings.segmentBytes = v }
        if let v = try bus.int("durable_cache_messages", in: 1...100_000_000) { settings.durableCacheMessages = v }
        if let list = bus["retention"] {
            guard case .sequence(let items, _) = list else { throw ConfigError("expected a list of rules", key: "bus.retention", line: list.line) }
            for (index, item) in items.enumerated() {
                settings.retention.append(try parseRetention(MappingReader(item, path: "bus.retention[\(index)]")))
            }
        }
        return settings
    }

    static func parseRetention(_ rule: MappingReader) throws(ConfigError) -> RetentionRule {
        try rule.allowOnly(["topics", "max_age_days", "max_messages", "max_bytes", "discard"])
        guard let text = try rule.string("topics") else { throw ConfigError("a retention rule names its topics", key: rule.path, line: rule.line) }
        let topics: TopicPattern
        do { topics = try TopicPattern(text) } catch { throw ConfigError("\"\(text)\" is not a topic pattern", key: rule.path + ".topics", line: rule.line(of: "topics")) }
        var parsed = RetentionRule(topics: topics)
        parsed.maxAgeDays = try rule.int("max_age_days", in: 1...36_500)
        parsed.maxMessages = try rule.int("max_messages", in: 1...1_000_000_000)
        parsed.maxBytes = try rule.int("max_bytes", in: 4_096...1 << 50)
        switch try rule.string("discard") ?? "old" {
        case "old": parsed.discardOld = true
        case "new": parsed.discardOld = false
        default: throw ConfigError("expected old or new", key: rule.path + ".discard", line: rule.line(of: "discard"))
        }
        return parsed
    }

    static func parsePrincipal(_ entry: MappingReader, supervised: Bool) throws(ConfigError) -> PrincipalConfig {
        try entry.allowOnly(["name", "enabled", "credential", "acl", "executable", "args", "env"])
        guard let name = try entry.string("name") else {
            throw ConfigError("missing required key", key: entry.path + ".name", line: entry.line)
        }
        guard CountyConfig.isValidName(name) else {
            throw ConfigError("\"\(name)\" is not a valid name (lower-case letters, digits, '-')", key: entry.path + ".name", line: entry.line(of: "name") ?? entry.line)
        }
        var acl = AccessControl()
        if let aclNode = entry["acl"] {
            let reader = try MappingReader(aclNode, path: entry.path + ".acl")
            try reader.allowOnly(["publish", "subscribe", "serve", "call"])
            acl.publish = try reader.topicPatterns("publish")
            acl.subscribe = try reader.topicPatterns("subscribe")
            acl.serve = try reader.methodPatterns("serve")
            acl.call = try reader.methodPatterns("call")
        }
        var environment: [String: String] = [:]
        if let envNode = entry["env"] {
            let reader = try MappingReader(envNode, path: entry.path + ".env")
            for key in reader.keys {
                // The stack's own variables are set by xunfang up (and the simulated clock
                // by xunfang harness alone): a county's config cannot set them.
                guard !key.hasPrefix("XUNFANG_") else {
                    throw ConfigError("\(key) is set by xunfang itself, not by a county's config", key: entry.path + ".env." + key, line: entry.line(of: "env"))
                }
                environment[key] = try reader.string(key)
            }
        }
        let credential = try entry.string("credential")
        if let credential, credential.utf8.count < 16 {
            throw ConfigError("credential must be at least 16 characters", key: entry.path + ".credential", line: entry.line(of: "credential"))
        }
        return PrincipalConfig(
            name: name, enabled: try entry.bool("enabled") ?? true, credential: credential, acl: acl,
            executable: try entry.string("executable"), arguments: try entry.strings("args"),
            environment: environment, supervised: supervised)
    }
}

/// Typed access to one mapping that remembers where it is, for error messages.
struct MappingReader {
    let path: String
    let line: Int?
    private let pairs: [ConfigNode.Pair]

    init(_ node: ConfigNode, path: String) throws(ConfigError) {
        guard case .mapping(let pairs, let line) = node else {
            throw ConfigError("expected a mapping of keys to values", key: path.isEmpty ? nil : path, line: node.line)
        }
        self.path = path
        self.line = line
        self.pairs = pairs
    }

    var keys: [String] { pairs.map(\.key) }

    subscript(key: String) -> ConfigNode? { pairs.first { $0.key == key }?.value }

    func line(of key: String) -> Int? { pairs.first { $0.key == key }?.line }

    private func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func allowOnly(_ allowed: Set<String>) throws(ConfigError) {
        for pair in pairs where !allowed.contains(pair.key) {
            throw ConfigError("unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))", key: keyPath(pair.key), line: pair.line)
        }
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let node = self[key] else { return nil }
        guard case .scalar(let scalar, _) = node else {
            throw ConfigError("expected a single value", key: keyPath(key), line: node.line)
        }
        return scalar.text
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let node = self[key] else { return nil }
        guard case .scalar(let scalar, _) = node, let value = scalar.bool else {
            throw ConfigError("expected true or false", key: keyPath(key), line: node.line)
        }
        return value
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let node = self[key] else { return nil }
        guard case .scalar(let scalar, _) = node, let value = scalar.int else {
            throw ConfigError("expected a whole number", key: keyPath(key), line: node.line)
        }
        guard range.contains(value) else {
            throw ConfigError("\(value) is outside \(range.lowerBound)...\(range.upperBound)", key: keyPath(key), line: node.line)
        }
        return value
    }

    func strings(_ key: String) throws(ConfigError) -> [String] {
        guard let node = self[key] else { return [] }
        guard case .sequence(let items, _) = node else {
            throw ConfigError("expected a list", key: keyPath(key), line: node.line)
        }
        var result: [String] = []
        for item in items {
            guard case .scalar(let scalar, _) = item else {
                throw ConfigError("expected a list of strings", key: keyPath(key), line: item.line)
            }
            result.append(scalar.text)
        }
        return result
    }

    func topicPatterns(_ key: String) throws(ConfigError) -> [TopicPattern] {
        var result: [TopicPattern] = []
        for text in try strings(key) {
            do throws(ConfigError) {
                result.append(try TopicPattern(text))
            } catch {
                throw ConfigError(error.message, key: keyPath(key), line: self[key]?.line)
            }
        }
        return result
    }

    func methodPatterns(_ key: String) throws(ConfigError) -> [MethodPattern] {
        var result: [MethodPattern] = []
        for text in try strings(key) {
            do throws(ConfigError) {
                result.append(try MethodPattern(text))
            } catch {
                throw ConfigError(error.message, key: keyPath(key), line: self[key]?.line)
            }
        }
        return result
    }
}
