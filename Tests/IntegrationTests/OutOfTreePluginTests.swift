import Foundation
import Logging
import TemplateContract
import Testing
import XunfangPluginKit

/// A third party's plugin lives in its own package and takes Xunfang by version, as
/// SwiftPM does for any remote dependency: no unsafe flags, only published products
/// (the SDK and a plugin's contract). This builds such a package against a tagged copy
/// of this repository and runs it on a bus.
@Suite("Out of tree: a plugin package that depends on Xunfang by version", .serialized)
struct OutOfTreePluginTests {
    static let secret = "out-of-tree-secret-0123456789"

    @Test("a package taking `from: \"1.0.0\"` builds, joins the bus and answers a call")
    func thirdPartyPlugin() async throws {
        let directory = NSTemporaryDirectory() + "xf-oot-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let release = try await taggedCopyOfThisRepository(in: "\(directory)/xunfang", tag: "1.0.0")
        let plugin = "\(directory)/acme-echo"
        try writeAcmePackage(at: plugin, dependingOn: release)

        let log = "\(directory)/build.log"
        let built = try await runTool(["swift", "build", "--package-path", plugin], log: log)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try #require(built == 0, "swift build of the out-of-tree package failed:\n\(output.suffix(4_000))")
        let binary = "\(plugin)/.build/debug/acme-echo"

        try """
        county: Out of Tree
        data_dir: data
        plugins:
          - name: acme-echo
            executable: \(binary)
            acl: { serve: ["/xunfang.template.v1.Template/*"] }
        clients:
          - name: tester
            credential: \(Self.secret)
            acl: { call: ["*"] }
        """.write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        let up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            up.terminate()
            up.waitUntilExit()
        }
        let client = BusClient(transport: .socket(.unixSocket("\(directory)/data/bus.sock")),
                               manifest: PluginManifest(name: "tester", version: "1.0.0"), credential: Self.secret,
                               logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        var request = Xunfang_Template_V1_EchoRequest()
        request.text = "巡防"
        var answer: Xunfang_Template_V1_EchoResponse?
        let deadline = ContinuousClock.now + .seconds(120)
        while answer == nil, ContinuousClock.now < deadline {
            if !client.isConnected { try? await client.start() }
            answer = try? await client.call("/xunfang.template.v1.Template/Echo", request, as: Xunfang_Template_V1_EchoResponse.self)
            if answer == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        await client.close()
        let reply = try #require(answer, "the out-of-tree plugin answered")
        #expect(reply.text == "acme: 巡防")
        #expect(reply.servedBy == "acme-echo")

        // Its executable is a full plugin: help without a credential, and its contract for ctl.
        let help = "\(directory)/help.txt"
        #expect(try await runTool([binary, "--help"], log: help) == 0)
        #expect(try String(contentsOfFile: help, encoding: .utf8).contains("usage: xunfang acme-echo"))
    }

    /// The working tree's files (tracked and new, not ignored) committed into a fresh
    /// repository and tagged, so the test sees the code under test, committed or not.
    func taggedCopyOfThisRepository(in destination: String, tag: String) async throws -> String {
        let root = packageRoot()
        let list = "\(destination).files"
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        #expect(try await runTool(["git", "-C", root, "ls-files", "-co", "--exclude-standard"], log: list) == 0)
        let files = try String(contentsOfFile: list, encoding: .utf8).split(separator: "\n").map(String.init)
        for file in files where FileManager.default.fileExists(atPath: "\(root)/\(file)") {
            let target = "\(destination)/\(file)"
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(root)/\(file)", toPath: target)
        }
        let git = ["git", "-C", destination, "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
        for step in [["init", "-q"], ["add", "-A"], ["commit", "-qm", "release"], ["tag", tag]] {
            #expect(try await runTool(git + step, log: "\(destination).git.log") == 0, "git \(step.joined(separator: " "))")
        }
        return destination
    }

    func writeAcmePackage(at path: String, dependingOn release: String) throws {
        try FileManager.default.createDirectory(atPath: "\(path)/Sources/AcmeEcho", withIntermediateDirectories: true)
        try """
        // swift-tools-version:6.1
        import PackageDescription

        let package = Package(
            name: "acme-echo",
            platforms: [.macOS(.v15)],
            dependencies: [.package(url: "file://\(release)", from: "1.0.0")],
            targets: [
                .executableTarget(name: "acme-echo", dependencies: [
                    .product(name: "XunfangPluginKit", package: "xunfang"),
                    .product(name: "TemplateContract", package: "xunfang"),
                ], path: "Sources/AcmeEcho"),
            ]
        )
        """.write(toFile: "\(path)/Package.swift", atomically: true, encoding: .utf8)
        try """
        import Foundation
        import TemplateContract
        import XunfangPluginKit

        struct AcmeEcho: Plugin {
            static let manifest = PluginManifest(name: "acme-echo", version: "1.0.0", serves: ["/xunfang.template.v1.Template/Echo"])
            static var descriptorSet: Data { TemplateDescriptors.fileDescriptorSet }

            init(context: PluginContext) throws {}

            func register(on bus: BusClient) {
                bus.serve("/xunfang.template.v1.Template/Echo") { (request: Xunfang_Template_V1_EchoRequest, _) in
                    Xunfang_Template_V1_EchoResponse.with {
                        $0.text = "acme: " + request.text
                        $0.servedBy = "acme-echo"
                    }
                }
            }

            func run(on bus: BusClient) async throws {
                while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
            }
        }

        await PluginMain.run(AcmeEcho.self)
        """.write(toFile: "\(path)/Sources/AcmeEcho/main.swift", atomically: true, encoding: .utf8)
    }

    /// Runs a tool with its output in `log`.
    func runTool(_ arguments: [String], log: String) async throws -> Int32 {
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        return try await onOwnThread {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }
}
