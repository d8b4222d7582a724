/// What a plugin is and what it will do on the bus, sent in its Hello. The bus checks
/// every declaration against the plugin's ACL in the county config and refuses the
/// handshake if one is not allowed, so a misconfigured county fails at start, not later.
///
/// ```swift
/// static let manifest = PluginManifest(
///     name: "template", version: "0.1.0",
///     publishes: ["template.echoed"], subscribes: ["template.note"],
///     serves: ["/xunfang.template.v1.Template/Echo"])
/// ```
public struct PluginManifest: Sendable, Hashable {
    public var name: String
    public var version: String
    public var publishes: [String]
    public var subscribes: [String]
    public var serves: [String]
    public var calls: [String]
    /// The message type of each topic pattern it publishes (`"incident.>": "xunfang.dispatch.v1.Incident"`),
    /// so tools decode its events without being told.
    public var topicTypes: [String: String]

    public init(name: String, version: String, publishes: [String] = [], subscribes: [String] = [],
                serves: [String] = [], calls: [String] = [], topicTypes: [String: String] = [:]) {
        self.topicTypes = topicTypes
        self.name = name
        self.version = version
        self.publishes = publishes
        self.subscribes = subscribes
        self.serves = serves
        self.calls = calls
    }
}

/// An error from the bus or the SDK, with the gRPC status code it carries on the wire.
public typealias BusClientError = StatusError

extension StatusError {
    /// Whether connecting again may succeed: the bus is unreachable, or still holds this
    /// instance's previous session (it lets it go once its pings go unanswered).
    static func isRetryable(_ code: StatusCode) -> Bool {
        code == .unavailable || code == .alreadyExists
    }
}

public import XunfangWire
