public import Foundation
import Logging
public import SwiftProtobuf

/// How a command-line tool (`xunfang ctl`, a plugin's own commands) joins a running bus
/// as a configured client: the credential comes from `<data>/credentials/<name>`, written
/// by `xunfang up`, or from a file. A tool does not reconnect: when the bus goes away its
/// subscriptions end, so a tool never hangs on a bus that is gone.
public struct ToolConnection: Sendable {
    public var dataDirectory: String
    /// A socket path, `unix:PATH`, `tcp:HOST:PORT` or `tls:HOST:PORT` (default `<data>/bus.sock`).
    public var bus: String?
    public var name: String
    public var credentialFile: String?

    public init(dataDirectory: String = "data", bus: String? = nil, name: String = "ctl", credentialFile: String? = nil) {
        self.dataDirectory = dataDirectory
        self.bus = bus
        self.name = name
        self.credentialFile = credentialFile
    }

    /// A plugin command's connection from its `--data-dir` and `--bus` options, the data
    /// directory defaulting to `XUNFANG_DATA_DIR`, then `data`.
    public init(options: [String: String], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(dataDirectory: options["--data-dir"] ?? environment["XUNFANG_DATA_DIR"] ?? "data", bus: options["--bus"])
    }

    public func credential() throws(BusClientError) -> String {
        let path = credentialFile ?? "\(dataDirectory)/credentials/\(name)"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BusClientError(.unauthenticated, "no credential at \(path): start the stack with `xunfang up` first, or pass --credential-file")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Connects and completes the handshake; `onLost` runs if the bus goes away later.
    public func connect(onLost: (@Sendable (BusClientError) -> Void)? = nil) async throws -> BusClient {
        let endpoint = PluginMain.parseEndpoint(bus ?? "\(dataDirectory)/bus.sock")
        let client = BusClient(transport: .socket(endpoint), manifest: PluginManifest(name: name, version: "0.1.0"),
                               instance: "\(name)-\(getpid())", credential: try credential(),
                               logger: Logger(label: "xunfang.\(name)", factory: { _ in SwiftLogNoOpLogHandler() }), reconnects: false)
        if let onLost { client.onGiveUp(onLost) }
        try await client.start()
        return client
    }

    /// Connects, makes one call and closes the connection however the call ends.
    public func callOnce(_ method: String, payload: Data, timeout: Duration = .seconds(10)) async throws -> Data {
        try await once { try await $0.callRaw(method, payload: payload, timeout: timeout) }
    }

    /// `callOnce` with typed messages.
    public func callOnce<Response: SwiftProtobuf.Message>(_ method: String, _ request: some SwiftProtobuf.Message, as type: Response.Type,
                                                         timeout: Duration = .seconds(10)) async throws -> Response {
        try await once { try await $0.call(method, request, as: type, timeout: timeout) }
    }

    private func once<T>(_ body: (BusClient) async throws -> T) async throws -> T {
        let client = try await connect()
        do {
            let answer = try await body(client)
            await client.close()
            return answer
        } catch {
            await client.close()
            throw error
        }
    }

    /// `xunfang up` on `directory`'s county.yaml, its output discarded: for a benchmark
    /// that measures the real stack. The caller stops it (terminate, then wait).
    public static func startStack(in directory: String) throws -> Process {
        let up = Process()
        up.executableURL = URL(fileURLWithPath: "\(executableDirectory())/xunfang")
        up.arguments = ["up", "--config", "county.yaml"]
        up.currentDirectoryURL = URL(fileURLWithPath: directory)
        up.standardError = FileHandle.nullDevice
        up.standardOutput = FileHandle.nullDevice
        try up.run()
        return up
    }

    /// Directory holding the running executable, where `xunfang` and `xunfang-plugin-*` live.
    public static func executableDirectory() -> String {
        let first = CommandLine.arguments[0]
        if first.contains("/") { return URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent().path }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            if FileManager.default.isExecutableFile(atPath: "\(directory)/\(first)") { return String(directory) }
        }
        return FileManager.default.currentDirectoryPath
    }
}
