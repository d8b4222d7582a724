import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import XunfangBus
import XunfangBusServer
import XunfangConfig
import XunfangPluginKit
import XunfangSupervisor

struct BusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus", abstract: "Run the message bus alone (the default), or check and repair its durable log.",
        subcommands: [BusRunCommand.self, BusLogCommand.self], defaultSubcommand: BusRunCommand.self)
}

struct BusRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the message bus alone.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        let logger = Logger(label: "xunfang.bus")
        let server = BusServer(config: config, credentials: try Credentials.resolve(config), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Run the bus and every plugin the county config enables, supervised.")
    @OptionGroup var options: ConfigOptions
    @Option(help: "Where the plugin executables are (default: beside xunfang).")
    var binDir: String?
    @Option(help: .hidden) var simulatedClock: String?

    func run() async throws {
        let config = try options.load()
        let logger = Logger(label: "xunfang.up")
        let credentials = try Credentials.resolve(config)
        let server = BusServer(config: config, credentials: credentials, logger: Logger(label: "xunfang.bus"))
        let addresses = try await server.start()
        let binDirectory = binDir ?? executableDirectory()
        // Only `xunfang harness` runs a stack on simulated time; a clock left in the shell's
        // environment is not passed on.
        unsetenv(PluginClock.environmentKey)
        if let simulatedClock {
            let clock = try PluginClock.from(environment: [PluginClock.environmentKey: simulatedClock])
            logger.warning("SIMULATED CLOCK: every plugin runs \(clock.factor) times as fast, for xunfang harness; not for a county's real work")
        }
        var processes: [SupervisedProcess] = []
        for plugin in config.enabledPlugins {
            let path = plugin.executableName.contains("/") ? plugin.executableName : "\(binDirectory)/\(plugin.executableName)"
            guard isExecutableFile(path) else {
                logger.warning("plugin is enabled but not built; its services will answer UNAVAILABLE",
                               metadata: ["xunfang.plugin": "\(plugin.name)", "xunfang.path": "\(path)"])
                continue
            }
            var environment = plugin.environment
            environment["XUNFANG_BUS"] = "unix:\(addresses.socketPath)"
            environment["XUNFANG_CREDENTIAL"] = credentials[plugin.name]
            environment["XUNFANG_INSTANCE"] = plugin.name
            environment["XUNFANG_DATA_DIR"] = config.dataDirectory
            if let simulatedClock { environment[PluginClock.environmentKey] = simulatedClock }
            processes.append(SupervisedProcess(name: plugin.name, executablePath: path, arguments: plugin.arguments, environment: environment))
        }
        logger.info("stack up", metadata: ["xunfang.county": "\(config.county)", "xunfang.socket": "\(addresses.socketPath)",
                                           "xunfang.plugins": "\(processes.map(\.name).joined(separator: ","))"])
        let supervisor = Supervisor(processes: processes, logger: Logger(label: "xunfang.supervisor"), metrics: server.metricsFactory)
        // Shut down in reverse order: plugins first (they say Goodbye), then the bus.
        let group = ServiceGroup(configuration: .init(services: [server, supervisor], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
