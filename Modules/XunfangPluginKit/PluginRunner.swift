public import Logging
public import Foundation
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
    /// The machine's clock, or a harness run's simulated one: every timestamp and every wait
    /// that means the county's time goes through it.
    public let clock: PluginClock

    public init(instance: String, dataDirectory: String, settings: [String: String], logger: Logger, clock: PluginClock = .real) {
        self.instance = instance
        self.dataDirectory = dataDirectory
        self.settings = settings
        self.logger = logger
        self.clock = clock
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
    /// The plugin's contract as a FileDescriptorSet (`<Name>Contract.descriptorSet`):
    /// `--descriptors` prints it, so `xunfang ctl` encodes and decodes its messages.
    static var descriptorSet: Data { get }
    /// The plugin's own commands (`xunfang NAME COMMAND ...`), listed by `--help`.
    static var commands: [PluginCommand] { get }
    init(context: PluginContext) throws
    /// Register service handlers here: services are declared when connecting.
    func register(on bus: BusClient)
    /// Runs until the task is cancelled or shutdown is requested.
    func run(on bus: BusClient) async throws
}

extension Plugin {
    public func register(on bus: BusClient) {}
    public static var descriptorSet: Data { Data() }
    public static var commands: [PluginCommand] { [] }
}

/// A command of a plugin's executable, run instead of joining the bus: imports, exports,
/// reports and benchmarks that work on the plugin's store or through the bus as a client.
public struct PluginCommand: Sendable {
    public let name: String
    public let summary: String
    /// Gets the arguments after the command's name; returns the exit status.
    public let run: @Sendable ([String]) async -> Int32

    public init(_ name: String, _ summary: String, run: @escaping @Sendable ([String]) async -> Int32) {
        self.name = name
        self.summary = summary
        self.run = run
    }
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

    /// `commands` are the executable's own, beside the plugin type's (`P.commands`).
    public static func run<P: Plugin>(_ type: P.Type, commands: [PluginCommand] = [], arguments: [String] = CommandLine.arguments) async -> Never {
        let manifest = P.manifest
        // Stores and files a plugin writes are its owner's alone (0600 / 0700), however started.
        umask(0o077)
        if let status = await runOffBus(P.self, commands: P.commands + commands, arguments: Array(arguments.dropFirst())) { exit(status) }
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
        let clock: PluginClock
        do {
            clock = try PluginClock.from(environment: environment)
        } catch {
            logger.critical("\(error)")
            exit(configurationErrorStatus)
        }
        if clock.isSimulated {
            logger.warning("running on a harness's simulated clock, \(clock.factor) times as fast: not for a county's real work")
        }
        let context = PluginContext(instance: instance, dataDirectory: dataDirectory, settings: environment, logger: logger, clock: clock)
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

    /// What the executable does instead of joining the bus: `--manifest`, `--descriptors`,
    /// `--help` and the plugin's commands need no credential. Nil: join the bus.
    static func runOffBus<P: Plugin>(_ type: P.Type, commands: [PluginCommand], arguments: [String]) async -> Int32? {
        guard let first = arguments.first else { return nil }
        switch first {
        case "--manifest":
            print(manifestJSON(P.manifest))
            return 0
        case "--descriptors":
            FileHandle.standardOutput.write(P.descriptorSet)
            return 0
        case "--help", "-h", "help":
            print(usage(P.manifest.name, commands: commands))
            return 0
        default:
            guard let command = commands.first(where: { $0.name == first }) else {
                let what = first.hasPrefix("-") ? "argument" : "command"
                let help = usage(P.manifest.name, commands: commands)
                FileHandle.standardError.write(Data("xunfang \(P.manifest.name): unknown \(what) \(first)\n\(help)\n".utf8))
                return 64
            }
            return await command.run(Array(arguments.dropFirst()))
        }
    }

    public static func usage(_ name: String, commands: [PluginCommand]) -> String {
        var lines = ["usage: xunfang \(name) COMMAND [ARGS...]   (or xunfang-plugin-\(name))", "", "Commands:"]
        let width = max(15, (commands.map(\.name.count).max() ?? 0) + 2)
        let rows = commands.map { ($0.name, $0.summary) } + [
            ("(none)", "join the bus and serve (XUNFANG_CREDENTIAL required; run by `xunfang up`)"),
            ("--manifest", "print what the plugin publishes, subscribes, serves and calls (JSON)"),
            ("--descriptors", "print the contract's FileDescriptorSet (binary), for `xunfang ctl`"),
            ("--help", "print this help"),
        ]
        for (command, summary) in rows { lines.append("  " + command.padding(toLength: width, withPad: " ", startingAt: 0) + summary) }
        lines += ["", "Environment when serving: XUNFANG_BUS (unix:PATH, tcp:HOST:PORT, tls:HOST:PORT), XUNFANG_CREDENTIAL,",
                  "XUNFANG_INSTANCE, XUNFANG_DATA_DIR (default data), XUNFANG_BUS_CA, XUNFANG_LOG_LEVEL."]
        return lines.joined(separator: "\n")
    }

    public static func manifestJSON(_ manifest: PluginManifest) -> String {
        let object: [String: Any] = [
            "name": manifest.name, "version": manifest.version, "executable": "xunfang-plugin-\(manifest.name)",
            "publishes": manifest.publishes, "subscribes": manifest.subscribes,
            "serves": manifest.serves, "calls": manifest.calls, "topicTypes": manifest.topicTypes,
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
