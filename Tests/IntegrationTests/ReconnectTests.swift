import Foundation
import Logging
import Testing
import XunfangPluginKit
import GridModelContract
import DispatchContract
import TemplateContract

/// The bus as its own process and plugins as theirs, as a county may run them under
/// systemd: the bus dies and comes back; the plugins must find it again by themselves.
@Suite("Out of process: plugins outlive the bus", .serialized)
struct ReconnectTests {
    static let secret = "reconnect-secret-0123456789abcdef"
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func county(pingMilliseconds: Int = 5_000) -> String {
        """
        county: Reconnect County
        data_dir: data
        bus:
          durable_topics: ["incident.>", "dispatch.order.>"]
          ping_interval_ms: \(pingMilliseconds)
        plugins:
          - name: grid-model
            credential: \(Self.secret)-grid-model
            acl: { publish: ["grid.>"], serve: ["/xunfang.grid_model.v1.GridModel/*"] }
          - name: dispatch
            credential: \(Self.secret)-dispatch
            acl:
              publish: ["incident.>", "dispatch.>", "unit.status"]
              subscribe: ["unit.position"]
              serve: ["/xunfang.dispatch.v1.Dispatch/*"]
              call: ["/xunfang.grid_model.v1.GridModel/*"]
        clients:
          - name: harness
            credential: \(Self.secret)
            acl: { subscribe: ["incident.>"], call: ["*"] }
        """
    }

    func prepare(pingMilliseconds: Int = 5_000) throws -> String {
        let directory = NSTemporaryDirectory() + "xf-reconnect-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try county(pingMilliseconds: pingMilliseconds).write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        return directory
    }

    func startPlugin(_ name: String, in directory: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(binDirectory())/xunfang-plugin-\(name)")
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging([
            "XUNFANG_BUS": "unix:\(directory)/data/bus.sock", "XUNFANG_CREDENTIAL": "\(Self.secret)-\(name)",
            "XUNFANG_INSTANCE": name, "XUNFANG_DATA_DIR": "\(directory)/data", "GRID_MODEL_HIERARCHIES": "none",
        ]) { $1 }
        FileManager.default.createFile(atPath: "\(directory)/\(name).log", contents: nil)
        let log = FileHandle(forWritingAtPath: "\(directory)/\(name).log")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    func harness(_ directory: String) async throws -> BusClient {
        let client = BusClient(transport: .socket(.unixSocket("\(directory)/data/bus.sock")),
                               manifest: PluginManifest(name: "harness", version: "1.0.0"), credential: Self.secret, logger: quiet)
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if (try? await client.start()) != nil { return client }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw BusClientError(.unavailable, "bus did not come up")
    }

    @Test("the bus killed -9 and restarted twice while incidents pour in: plugins serve again, no acknowledged incident lost")
    func busKilledTwice() async throws {
        let directory = try prepare()
        var bus = try startXunfang(["bus", "--config", "county.yaml"], in: directory)
        let plugins = try ["grid-model", "dispatch"].map { try startPlugin($0, in: directory) }
        defer {
            for process in plugins + [bus] where process.isRunning { process.terminate() }
        }
        let client = try await harness(directory)
        var acknowledged: [String] = []
        var kills = 0
        for index in 0..<900 {
            if index == 300 || index == 600 {
                #expect(kill(bus.processIdentifier, SIGKILL) == 0)
                try await exited(bus)
                kills += 1
                bus = try startXunfang(["bus", "--config", "county.yaml"], in: directory)
            }
            acknowledged.append(try await acknowledgedIntake(client, index: index, prefix: "reconnect"))
        }
        #expect(kills == 2)
        #expect(plugins.allSatisfy { $0.isRunning }, "the plugins lived through both restarts (logs in \(directory))")
        var list = Xunfang_Dispatch_V1_ListIncidentsRequest()
        list.limit = 5_000
        let stored = try await client.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", list, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self)
        #expect(Set(stored.incidents.map(\.id)).isSuperset(of: Set(acknowledged)))
        #expect(Set(acknowledged).count == 900)
        var locate = Xunfang_GridModel_V1_LocateRequest()
        locate.position.longitude = 104.2817
        locate.position.latitude = 30.9769
        let located = try await client.call("/xunfang.grid_model.v1.GridModel/Locate", locate, as: Xunfang_GridModel_V1_LocateResponse.self)
        #expect(located.found, "GridModel serves again")
        await client.close()
        bus.terminate()
        try await exited(bus)
    }

    @Test("a bus that stops answering without closing (SIGSTOP) is noticed and reconnected to when it wakes")
    func frozenBus() async throws {
        let directory = try prepare(pingMilliseconds: 300)
        let bus = try startXunfang(["bus", "--config", "county.yaml"], in: directory)
        defer {
            kill(bus.processIdentifier, SIGCONT)
            bus.terminate()
            bus.waitUntilExit()
        }
        let client = try await harness(directory)
        #expect(kill(bus.processIdentifier, SIGSTOP) == 0)
        let deadline = ContinuousClock.now + .seconds(60)
        while client.isConnected && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!client.isConnected, "three silent ping intervals close the link")
        #expect(kill(bus.processIdentifier, SIGCONT) == 0)
        while !client.isConnected && ContinuousClock.now < deadline + .seconds(60) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(client.isConnected, "the client found the bus again")
        _ = try await client.callRaw("/xunfang.bus.v1.Bus/Stats", payload: Data())
        await client.close()
    }

    @Test("the C example plugin joins again after the bus is killed -9 and restarted")
    func cPluginRejoins() async throws {
        let cPlugin = "\(packageRoot())/tools/c-sdk/build/xunfang-plugin-c-example"
        try #require(FileManager.default.isExecutableFile(atPath: cPlugin), "build it with: make -C tools/c-sdk")
        let directory = try prepare()
        try """
        county: C Reconnect
        data_dir: data
        bus:
          durable_topics: ["example.job"]
        clients:
          - name: c-example
            credential: \(Self.secret)-c
            acl: { publish: ["example.done"], subscribe: ["example.>"], serve: ["/xunfang.example.v1.CExample/*"] }
          - name: harness
            credential: \(Self.secret)
            acl: { call: ["*"] }
        """.write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        var bus = try startXunfang(["bus", "--config", "county.yaml"], in: directory)
        let plugin = Process()
        plugin.executableURL = URL(fileURLWithPath: cPlugin)
        plugin.environment = ["XUNFANG_BUS": "unix:\(directory)/data/bus.sock", "XUNFANG_CREDENTIAL": "\(Self.secret)-c"]
        plugin.standardOutput = FileHandle.nullDevice  // an orphan must not hold the test's output open
        plugin.standardError = FileHandle.nullDevice
        try plugin.run()
        defer {
            // SIGKILL: a child of the test process may inherit SIGTERM ignored.
            if plugin.isRunning { kill(plugin.processIdentifier, SIGKILL) }
            if bus.isRunning { bus.terminate() }
        }
        let client = try await harness(directory)
        func echo() async -> Bool {
            var request = Xunfang_Template_V1_EchoRequest()
            request.text = "巡防"
            let reply = try? await client.call("/xunfang.example.v1.CExample/Echo", request, as: Xunfang_Template_V1_EchoResponse.self,
                                               timeout: .seconds(5))
            return reply?.text.contains("巡防") == true
        }
        func eventuallyEchoes() async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if await echo() { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        #expect(try await eventuallyEchoes())
        for _ in 0..<2 {
            #expect(kill(bus.processIdentifier, SIGKILL) == 0)
            try await exited(bus)
            bus = try startXunfang(["bus", "--config", "county.yaml"], in: directory)
            #expect(try await eventuallyEchoes(), "the C plugin serves again")
        }
        #expect(plugin.isRunning)
        await client.close()
    }
}
