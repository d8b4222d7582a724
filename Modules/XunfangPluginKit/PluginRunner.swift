public import Logging
import Foundation
public import ServiceLifecycle
import XunfangWire

/// What a plugin gets from its host when it starts.
public struct PluginContext: Sendable {
    public let instance: String
    /// The plugin's own directory for its SQLite file and state.
    public let dataDirectory: String
    /// Settings from the county config's `env` for this plugin (and the process environment).
    public let settings: [String: String]
    public let logger: Logger

    public init(instance: String, dataDirectory: String, settings: [String: String], logger: Logger) {
        self.instance = instance
        self.dataDirectory = dataDirectory
        self.settings = settings
        self.logger = logger
    }
}

/// A plugin: a manifest, handlers registered before connecting, and a body that runs
/// until shutdown. The same type runs out of process (`PluginMain.run`) or in process
/// (tests, embedding) against `InProcessBus`.
///
/// ```swift
/// struct Template: Plugin {
///     static let manifest = PluginManifest(name: "template", version: "0.1.0",
///                                          serves: ["/xunfang.template.v1.Template/Echo"])
///     init(context: PluginContext) throws {}
///     func register(on bus: BusClient) {
///         bus.serve("/xunfang.template.v1.Template/Echo") { (request: EchoRequest, _) in
///             EchoResponse.with { $0.text = request.text }
///         }
///     }
///     func run(on bus: BusClient) async throws { try await gracefulShutdown() }
/// }
/// ```
public protocol Plugin: Sendable {
    static var manifest: PluginManifest { get }
    init(context: PluginContext) throws
    /// Register service handlers here: services are declared when connecting.
    func register(on bus: BusClient)
    /// Runs until the task is cancelled or shutdown is requested.
    func run(on bus: BusClient) async throws
}

extension Plugin {
    public func register(on bus: BusClient) {}
}

/// Entry point of a plugin executable (`xunfang-plugin-<name>`).
///
/// Environment, set by the supervisor or by hand:
/// - `XUNFANG_BUS`: `unix:/path/bus.sock`, a socket path, `tcp:host:port` or `tls:host:port`
///   (default `data/bus.sock`); `XUNFANG_BUS_CA`: PEM file of the roots that sign the bus's TLS certificate
/// - `XUNFANG_CREDENTIAL`: this plugin's secret (required)
/// - `XUNFANG_INSTANCE`: instance name (default: the plugin name)
/// - `XUNFANG_DATA_DIR`: the county data directory (default `data`); the plugin's own is `<dir>/<name>`
public enum PluginMain {
    /// Exit status when the bus refuses the plugin: a configuration error, not a crash.
    public static let configurationErrorStatus: Int32 = 78

    public static func run<P: Plugin>(_ type: P.Type, arguments: [String] = CommandLine.arguments) async -> Never {
        let manifest = P.manifest
        if arguments.contains("--manifest") {
            print(manifestJSON(manifest))
            exit(0)
        }
        let environment = ProcessInfo.processInfo.environment
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = environment["XUNFANG_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let instance = environment["XUNFANG_INSTANCE"] ?? manifest.name
        var logger = Logger(label: "xunfang-plugin-\(manifest.name)")
        logger[metadataKey: "xunfang.plugin"] = "\(instance)"
        guard let credential = environment["XUNFANG_CREDENTIAL"], !credential.isEmpty else {
            logger.critical("XUNFANG_CREDENTIAL is not set; the bus would refuse this plugin")
            exit(configurationErrorStatus)
        }
        SupervisorWatch.start(environment: environment, logger: logger)
        let dataDirectory = "\(environment["XUNFANG_DATA_DIR"] ?? "data")/\(manifest.name)"
        try? FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let endpoint = parseEndpoint(environment["XUNFANG_BUS"] ?? "data/bus.sock")
        let context = PluginContext(instance: instance, dataDirectory: dataDirectory, settings: environment, logger: logger)
        do {
            let plugin = try P(context: context)
            let client = BusClient(transport: .socket(endpoint), manifest: manifest, instance: instance, credential: credential, logger: logger)
            plugin.register(on: client)
            client.onGiveUp { [logger] error in
                logger.critical("the bus refused this plugin on reconnecting; exiting", metadata: ["xunfang.error": "\(error)"])
                exit(configurationErrorStatus)
            }
            try await connectWithRetry(client, logger: logger)
            let service = PluginService(plugin: plugin, client: client)
            let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            exit(0)
        } catch let error as BusClientError where error.code != .unavailable {
            logger.critical("cannot join the bus", metadata: ["xunfang.error": "\(error)"])
            exit(configurationErrorStatus)
        } catch {
            logger.critical("plugin stopped with an error", metadata: ["xunfang.error": "\(error)"])
            exit(1)
        }
    }

    /// The bus may still be starting: retry UNAVAILABLE with back-off; refusals end at once.
    public static func connectWithRetry(_ client: BusClient, logger: Logger) async throws {
        var delay = Duration.milliseconds(50)
        for attempt in 1... {
            do {
                try await client.start()
                return
            } catch let error as BusClientError where BusClientError.isRetryable(error.code) && attempt < 100 {
                logger.debug("bus not reachable yet", metadata: ["xunfang.error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    public static func parseEndpoint(_ text: String) -> BusEndpoint {
        if text.hasPrefix("tls:") {
            let rest = text.dropFirst(4)
            if let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) {
                return .tls(host: String(rest[..<colon]), port: port, trustRoots: ProcessInfo.processInfo.environment["XUNFANG_BUS_CA"])
            }
        }
        if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            if let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) {
                return .tcp(host: String(rest[..<colon]), port: port)
            }
        }
        if text.hasPrefix("unix:") { return .unixSocket(String(text.dropFirst(5))) }
        return .unixSocket(text)
    }

    public static func manifestJSON(_ manifest: PluginManifest) -> String {
        let object: [String: Any] = [
            "name": manifest.name, "version": manifest.version, "executable": "xunfang-plugin-\(manifest.name)",
            "publishes": manifest.publishes, "subscribes": manifest.subscribes,
            "serves": manifest.serves, "calls": manifest.calls,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A plugin outlives nothing that started it: when its supervisor's watchdog pipe
/// (`XUNFANG_SUPERVISOR_FD`) reads end-of-file, the supervisor is gone (even by kill -9),
/// and the plugin stops gracefully, or at once if that takes too long. Otherwise orphans
/// would keep serving, or reconnect to the next stack beside their own replacements.
enum SupervisorWatch {
    static func start(environment: [String: String], logger: Logger) {
        guard let text = environment["XUNFANG_SUPERVISOR_FD"], let descriptor = Int32(text), descriptor >= 0 else { return }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(descriptor, &byte, 1)
                if count == 0 || (count < 0 && errno != EINTR) { break }
            }
            logger.critical("the supervisor is gone; stopping")
            kill(getpid(), SIGTERM)
            sleep(5)
            _exit(1)
        }
        thread.start()
    }
}

/// Runs a plugin's body as a lifecycle service; on shutdown the client says Goodbye.
public struct PluginService<P: Plugin>: Service {
    let plugin: P
    let client: BusClient

    public init(plugin: P, client: BusClient) {
        self.plugin = plugin
        self.client = client
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await plugin.run(on: client)
        }
        await client.close()
    }
}
