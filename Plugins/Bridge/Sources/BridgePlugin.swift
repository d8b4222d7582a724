public import Foundation
public import XunfangPluginKit
import BridgeContract
import Logging
import Synchronization
import XunfangNATS

/// Links this county's bus with other counties and the city through a NATS JetStream
/// cluster: topics named in `BRIDGE_EXPORT` go out as `xunfang.<county>.<topic>`, subjects
/// named in `BRIDGE_IMPORT` come in under their topic. Both ways at least once: a bus
/// delivery is acknowledged only when JetStream has stored it, a JetStream message only
/// when the bus has; ids are kept (`Nats-Msg-Id` = `<county>:<bus message id>`, the same
/// id on the receiving bus), so a replay is stored once by JetStream and recognised by
/// the receiving county's consumers.
public struct BridgePlugin: Plugin {
    public static let statusMethod = "/xunfang.bridge.v1.Bridge/Status"
    public static let callMethod = "/xunfang.bridge.v1.Bridge/Call"

    // Topics and answered methods are the county's choice (settings), so the manifest
    // declares none: the bus checks each against the bridge's ACL as it happens.
    public static let manifest = PluginManifest(name: "bridge", version: "0.1.0", serves: [statusMethod, callMethod])

    public static var descriptorSet: Data { BridgeDescriptors.fileDescriptorSet }

    let settings: BridgeSettings
    let instance: String
    let logger: Logger
    let state = BridgeState()

    public init(context: PluginContext) throws {
        settings = try BridgeSettings(context: context)
        instance = context.instance
        logger = context.logger
    }

    public func register(on bus: BusClient) {
        bus.serve(Self.statusMethod, placement: .arrivingThread) { [state] (_: Xunfang_Bridge_V1_StatusRequest, _) in
            state.status()
        }
        bus.serve(Self.callMethod) { [state, settings] (request: Xunfang_Bridge_V1_CallRequest, _) in
            try await CrossCounty.call(request, settings: settings, connection: state.connection)
        }
    }

    public func run(on bus: BusClient) async throws {
        var options = NATSOptions(servers: settings.servers, name: "xunfang-bridge-\(settings.county)",
                                  user: settings.user, password: settings.password, token: settings.token, trustRoots: settings.trustRoots)
        options.requestTimeout = .seconds(10)
        // The city's NATS may be down when the county starts: the county bus goes on alone and
        // the bridge links up when it can.
        let logger = self.logger
        let connection = try await untilDone(backoff: .milliseconds(200), onRetry: { error in
            logger.warning("no NATS server answers yet; the county goes on alone", metadata: ["bridge.error": "\(error)"])
        }) { try await NATSConnection.connect(options, logger: logger) }
        state.attach(connection, county: settings.county)
        let jetStream = JetStream(connection, timeout: .seconds(10))
        try await untilDone(backoff: .milliseconds(200), onRetry: { error in
            logger.warning("cannot create the stream yet", metadata: ["bridge.stream": "\(settings.stream)", "bridge.error": "\(error)"])
        }) {
            try await jetStream.ensureStream(.init(name: settings.stream, subjects: ["xunfang.>"], replicas: settings.replicas,
                                                   duplicateWindow: settings.duplicateWindow, maxAge: settings.maxAge))
        }
        logger.info("bridge linked", metadata: ["bridge.county": "\(settings.county)", "bridge.server": "\(connection.serverInfo.serverName)",
                                                "bridge.exports": "\(settings.exports)", "bridge.imports": "\(settings.imports.map(\.subject))"])
        try await withThrowingDiscardingTaskGroup { group in
            for pattern in settings.exports {
                let mirror = ExportMirror(pattern: pattern, settings: settings, instance: instance, jetStream: jetStream, state: state, logger: logger)
                group.addTask { try await mirror.run(on: bus) }
            }
            for rule in settings.imports {
                let mirror = ImportMirror(rule: rule, settings: settings, jetStream: jetStream, state: state, logger: logger)
                group.addTask { try await mirror.run(on: bus) }
            }
            if !settings.answers.isEmpty {
                group.addTask { try await CrossCounty.answer(settings: settings, connection: connection, bus: bus, logger: logger) }
            }
            // Status is served until shutdown cancels the run, mirrors or not.
            group.addTask { while true { try await Task.sleep(for: .seconds(3_600)) } }
        }
        await connection.close()
    }
}

/// Retries a step that must happen (a message must not be lost) until it succeeds or the
/// task is cancelled; `permanent` errors are returned to the caller instead.
@discardableResult
func untilDone<T>(backoff start: Duration = .milliseconds(100), onRetry: (any Error) -> Void, isPermanent: (any Error) -> Bool = { _ in false },
                  _ body: () async throws -> T) async throws -> T {
    var wait = start
    while true {
        do {
            return try await body()
        } catch {
            if error is CancellationError || isPermanent(error) { throw error }
            onRetry(error)
            try await Task.sleep(for: wait)
            wait = min(wait * 2, .seconds(5))
        }
    }
}
