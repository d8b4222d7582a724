/// What a plugin (or a client such as `xunfang ctl`) may do on the bus.
public struct AccessControl: Hashable, Sendable {
    public var publish: [TopicPattern]
    public var subscribe: [TopicPattern]
    public var serve: [MethodPattern]
    public var call: [MethodPattern]

    public init(publish: [TopicPattern] = [], subscribe: [TopicPattern] = [],
                serve: [MethodPattern] = [], call: [MethodPattern] = []) {
        self.publish = publish
        self.subscribe = subscribe
        self.serve = serve
        self.call = call
    }

    public func mayPublish(_ topic: String) -> Bool { publish.contains { $0.matches(topic) } }
    public func maySubscribe(_ pattern: TopicPattern) -> Bool { subscribe.contains { $0.covers(pattern) } }
    public func mayServe(_ method: String) -> Bool { serve.contains { $0.matches(method) } }
    public func mayCall(_ method: String) -> Bool { call.contains { $0.matches(method) } }

    /// Everything allowed: for the operator's own tools on a trusted socket.
    public static let unrestricted = AccessControl(
        publish: [try! TopicPattern(">")], subscribe: [try! TopicPattern(">")],
        serve: [try! MethodPattern("*")], call: [try! MethodPattern("*")])
}

/// One principal in the county config: a plugin the supervisor runs, or a client.
public struct PrincipalConfig: Hashable, Sendable {
    /// Plugin name ("dispatch"); the executable is `xunfang-plugin-<name>` unless set.
    public var name: String
    public var enabled: Bool
    /// Shared secret. `nil` means `xunfang up` generates one per run and passes it to the
    /// child it spawns; a plugin started by hand then cannot join, by design.
    public var credential: String?
    public var acl: AccessControl
    public var executable: String?
    public var arguments: [String]
    /// Extra environment for the plugin process (settings).
    public var environment: [String: String]
    /// Spawned by the supervisor (`true`) or a client that connects on its own.
    public var supervised: Bool

    public init(name: String, enabled: Bool = true, credential: String? = nil, acl: AccessControl,
                executable: String? = nil, arguments: [String] = [], environment: [String: String] = [:],
                supervised: Bool = true) {
        self.name = name
        self.enabled = enabled
        self.credential = credential
        self.acl = acl
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.supervised = supervised
    }

    public var executableName: String { executable ?? "xunfang-plugin-\(name)" }
}

/// How long the durable log keeps messages of the topics a rule names, and what happens
/// at a limit: `discardOld` drops the oldest (acknowledged or not, like JetStream's
/// DiscardOld), otherwise new publishes are refused with RESOURCE_EXHAUSTED (DiscardNew).
public struct RetentionRule: Hashable, Sendable {
    public var topics: TopicPattern
    public var maxAgeDays: Int?
    public var maxMessages: Int?
    public var maxBytes: Int?
    public var discardOld: Bool

    public init(topics: TopicPattern, maxAgeDays: Int? = nil, maxMessages: Int? = nil, maxBytes: Int? = nil, discardOld: Bool = true) {
        self.topics = topics
        self.maxAgeDays = maxAgeDays
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.discardOld = discardOld
    }

    /// For durable topics no rule names: 30 days, then the oldest go.
    public static let defaultMaxAgeDays = 30
}

public struct BusSettings: Hashable, Sendable {
    /// Unix socket path, relative paths resolve against `dataDirectory`.
    public var socketPath: String = "bus.sock"
    /// "host:port" for TCP, or nil. Loopback unless the county says otherwise.
    public var tcpListen: String?
    public var tlsCertificate: String?
    public var tlsPrivateKey: String?
    /// Topics written to the on-disk log before they are acknowledged.
    public var durableTopics: [TopicPattern] = []
    public var maxFrameBytes: Int = 4 * 1024 * 1024
    public var maxDecompressedBytes: Int = 16 * 1024 * 1024
    public var pingIntervalMilliseconds: Int = 5_000
    /// Bound of each plain subscriber's queue; when full the oldest is dropped.
    public var subscriberQueueLimit: Int = 8_192
    /// First match wins; durable topics no rule names keep `RetentionRule.defaultMaxAgeDays`.
    public var retention: [RetentionRule] = []
    /// Bytes held for one slow session (all its subscriptions), and for all of them.
    public var sessionBufferBytes: Int = 64 * 1024 * 1024
    public var totalBufferBytes: Int = 512 * 1024 * 1024
    /// Durable deliveries outstanding without ack per consumer; then delivery pauses.
    public var durableInFlightLimit: Int = 1_024
    /// Longest a request may wait for its response when the caller gives no deadline.
    public var maxRequestTimeoutMilliseconds: Int = 30_000
    public var segmentBytes: Int = 64 * 1024 * 1024
    /// Durable messages kept in memory with their payload; older ones are read from disk,
    /// so a consumer that is down for days costs disk, not memory.
    public var durableCacheMessages: Int = 65_536
    /// Prometheus text endpoint "host:port" on loopback, or nil.
    public var metricsListen: String?

    public init() {}

    /// Whether "host:port" listens on this machine only (127.0.0.0/8, ::1, localhost).
    public static func isLoopback(_ listen: String) -> Bool {
        var host = listen
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        host.removeAll { $0 == "[" || $0 == "]" }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// The county configuration: which plugins run, with which rights and settings.
public struct CountyConfig: Hashable, Sendable {
    public var county: String
    public var dataDirectory: String
    public var bus: BusSettings
    public var principals: [PrincipalConfig]

    public init(county: String, dataDirectory: String, bus: BusSettings = BusSettings(), principals: [PrincipalConfig]) {
        self.county = county
        self.dataDirectory = dataDirectory
        self.bus = bus
        self.principals = principals
    }

    public func principal(named name: String) -> PrincipalConfig? {
        principals.first { $0.name == name }
    }

    /// The plugins the supervisor starts.
    public var enabledPlugins: [PrincipalConfig] {
        principals.filter { $0.enabled && $0.supervised }
    }

    /// Name every plugin executable follows.
    public static func executableName(forPlugin name: String) -> String { "xunfang-plugin-\(name)" }

    /// Plugin and client names: lower-case letters, digits and dashes.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.first!.isLetter
            && name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }
}
