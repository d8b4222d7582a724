import Foundation
import Logging
import Testing
import XunfangTestSupport
import XunfangPluginKit
import TemplateContract

/// The package root, found from the build folder (the C SDK builds under it).
func packageRoot() -> String {
    var url = URL(fileURLWithPath: binDirectory())
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        url.deleteLastPathComponent()
    }
    return FileManager.default.currentDirectoryPath
}

@Suite("Out of process: a Swift plugin and the C example plugin on one bus", .serialized)
struct MixedLanguageTests {
    static let secret = "integration-secret-0123456789"

    @Test("Swift and C plugins answer over the socket; the C plugin publishes, and its durable consumer catches up after a kill")
    func swiftAndC() async throws {
        let cPlugin = "\(packageRoot())/tools/c-sdk/build/xunfang-plugin-c-example"
        try #require(FileManager.default.isExecutableFile(atPath: cPlugin), "build it with: make -C tools/c-sdk")
        let directory = NSTemporaryDirectory() + "xf-mixed-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        county: Mixed
        data_dir: data
        bus:
          durable_topics: ["example.job"]
        plugins:
          - name: template
            acl: { publish: ["template.>"], subscribe: ["template.>"], serve: ["/xunfang.template.v1.Template/*"] }
          - name: c-example
            executable: \(cPlugin)
            acl: { publish: ["example.done"], subscribe: ["example.>"], serve: ["/xunfang.example.v1.CExample/*"] }
        clients:
          - name: tester
            credential: \(Self.secret)
            acl: { publish: ["example.>", "template.>"], subscribe: ["example.done"], call: ["*"] }
        """.write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        let up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            up.terminate()
            up.waitUntilExit()
        }
        let client = BusClient(transport: .socket(.unixSocket("\(directory)/data/bus.sock")),
                               manifest: PluginManifest(name: "tester", version: "1.0.0"), credential: Self.secret,
                               logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        // The stack is other processes: wait until both plugins serve.
        var ready = false
        for _ in 0..<400 where !ready {
            if !client.isConnected { try? await client.start() }
            let stats = client.isConnected ? try? await client.callRaw("/xunfang.bus.v1.Bus/Stats", payload: Data()) : nil
            let text = stats.map { String(decoding: $0, as: UTF8.self) } ?? ""
            ready = text.contains("/xunfang.example.v1.CExample/Echo") && text.contains("/xunfang.template.v1.Template/Echo")
            if !ready { try await Task.sleep(for: .milliseconds(50)) }
        }
        try #require(ready, "both plugins joined the bus")

        var request = Xunfang_Template_V1_EchoRequest()
        request.text = "巡防 from Swift"
        for _ in 0..<3 { try await client.publish("example.note", payload: Data("n".utf8)) }
        let fromC = try await client.call("/xunfang.example.v1.CExample/Echo", request, as: Xunfang_Template_V1_EchoResponse.self)
        #expect(fromC.text == "巡防 from Swift")
        #expect(fromC.servedBy == "c-example")
        #expect(fromC.notesSeen == 3, "the C plugin's subscription saw the notes published before the call")

        let fromSwift = try await client.call("/xunfang.template.v1.Template/Echo", request, as: Xunfang_Template_V1_EchoResponse.self)
        #expect(fromSwift.servedBy == "template")

        // A malformed request gets the C plugin's INVALID_ARGUMENT, not a crash.
        do {
            _ = try await client.callRaw("/xunfang.example.v1.CExample/Echo", payload: Data([0xFF, 0xFF, 0xFF]))
            Issue.record("accepted garbage")
        } catch let error as BusClientError {
            #expect(error.code == .invalidArgument)
        }

        // Jobs on a durable topic: the C plugin answers each on example.done (its publish), acking them.
        let done = try await client.subscribe("example.done")
        var answers = done.makeAsyncIterator()
        for job in ["job-1", "job-2"] { try await client.publishConfirmed("example.job", payload: Data(job.utf8)) }
        var heard: [String] = []
        while heard.count < 2, let answer = await answers.next() { heard.append(String(decoding: answer.payload, as: UTF8.self)) }
        #expect(heard == ["job-1", "job-2"])
        // Killed, jobs arrive while it is down; the restarted plugin's durable consumer gets exactly those.
        let first = try #require(try await pluginChild("xunfang-plugin-c-example", of: up.processIdentifier))
        #expect(kill(first, SIGKILL) == 0)
        #expect(await eventually { kill(first, 0) != 0 })
        for job in ["job-3", "job-4"] { try await client.publishConfirmed("example.job", payload: Data(job.utf8)) }
        heard = []
        while heard.count < 2, let answer = await answers.next() { heard.append(String(decoding: answer.payload, as: UTF8.self)) }
        #expect(heard == ["job-3", "job-4"], "acked jobs are not done again; the ones published meanwhile are")
        #expect(try await pluginChild("xunfang-plugin-c-example", of: up.processIdentifier) != first)
        await client.close()
    }
}
