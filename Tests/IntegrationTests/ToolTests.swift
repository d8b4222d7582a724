import Foundation
import Testing
import XunfangTestSupport
import XunfangConfig

@Suite("The county-IT tools: ctl subscribe, plugin list, plugin new", .serialized)
struct ToolTests {
    @Test("ctl subscribe prints decoded JSON by the publisher's contract, and exits 14 when the bus goes away")
    func subscribe() async throws {
        let directory = NSTemporaryDirectory() + "xf-tools-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let up = try startXunfang(["up"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        let echo = ["ctl", "call", "/xunfang.template.v1.Template/Echo", "--data", #"{"text":"巡防"}"#]
        #expect(try await eventually { try await run(echo, in: directory).output.contains("巡防") })
        let printed = directory + "/subscribe.out"
        let subscriber = try startXunfang(["ctl", "subscribe", "template.>"], in: directory, output: printed)
        defer { if subscriber.isRunning { kill(subscriber.processIdentifier, SIGKILL) } }
        // The subscription starts on its own: publish until it prints (an observed event, not a guess).
        let publish = ["ctl", "publish", "template.note", "--data", #"{"text":"查岗"}"#]
        #expect(try await eventually {
            _ = try await run(publish, in: directory)
            return ((try? String(contentsOfFile: printed, encoding: .utf8)) ?? "").contains(#""text":"查岗""#)
        })
        let line = try #require(String(contentsOfFile: printed, encoding: .utf8).split(separator: "\n").first)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["topic"] as? String == "template.note" && (json["publisher"] as? String)?.hasPrefix("ctl") == true)
        up.terminate()
        try await exited(up)
        #expect(await eventually { !subscriber.isRunning }, "ctl subscribe ends when the bus goes away")
        if !subscriber.isRunning { #expect(subscriber.terminationStatus == 14, "UNAVAILABLE") }
    }

    @Test("plugin list prints every installed plugin's manifest with its topics' types")
    func pluginList() async throws {
        let listed = try await run(["plugin", "list"], in: NSTemporaryDirectory())
        #expect(listed.status == 0)
        let plugins = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
        let names = Set(plugins.compactMap { $0["name"] as? String })
        #expect(names.isSuperset(of: ["dispatch", "grid-model", "situation", "template"]), "\(names)")
        let dispatch = try #require(plugins.first { $0["name"] as? String == "dispatch" })
        #expect((dispatch["serves"] as? [String])?.contains("/xunfang.dispatch.v1.Dispatch/ReadPersonal") == true)
        #expect((dispatch["topicTypes"] as? [String: String])?["incident.>"] == "xunfang.dispatch.v1.Incident")
    }

    @Test("plugin new adds a plugin with its own contract product beside the template; bad or taken names are refused")
    func pluginNew() async throws {
        let root = NSTemporaryDirectory() + "xf-new-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/Plugins", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: packageRoot() + "/Package.swift", toPath: root + "/Package.swift")
        try FileManager.default.copyItem(atPath: packageRoot() + "/Plugins/_Template", toPath: root + "/Plugins/_Template")
        let created = try await run(["plugin", "new", "acme-patrol", "--package-path", root, "--skip-generate"], in: root)
        #expect(created.status == 0, "\(created.output)")
        let manifest = try String(contentsOfFile: root + "/Package.swift", encoding: .utf8)
        for line in [#".executable(name: "xunfang-plugin-acme-patrol", targets: ["AcmePatrolPluginMain"])"#,
                     #".library(name: "AcmePatrolContract", targets: ["AcmePatrolContract"])"#,
                     #"path: "Plugins/AcmePatrol/Contract""#, #"dependencies: ["XunfangPluginKit", "AcmePatrolContract", protobuf, logging]"#] {
            #expect(manifest.contains(line), "\(line)")
        }
        let proto = try String(contentsOfFile: root + "/Plugins/AcmePatrol/proto/xunfang/acme_patrol/v1/acme_patrol.proto", encoding: .utf8)
        #expect(proto.contains("package xunfang.acme_patrol.v1;") && proto.contains("service AcmePatrol"))
        let source = try String(contentsOfFile: root + "/Plugins/AcmePatrol/Sources/AcmePatrolPlugin.swift", encoding: .utf8)
        #expect(source.contains("AcmePatrolPlugin") && source.contains("import AcmePatrolContract") && source.contains("\"acme-patrol\""))
        #expect(!source.contains("Template"), "no template name is left behind")

        #expect(try await run(["plugin", "new", "acme-patrol", "--package-path", root, "--skip-generate"], in: root).status != 0, "taken")
        for bad in ["Acme", "acme_patrol", "template", ""] {
            #expect(try await run(["plugin", "new", bad, "--package-path", root, "--skip-generate"], in: root).status != 0, "\(bad)")
        }
        #expect(try String(contentsOfFile: root + "/Package.swift", encoding: .utf8) == manifest, "a refusal changes nothing")
    }
}

@Suite("xunfang build packages a county's dist/", .serialized)
struct BuildPackagingTests {
    @Test("dist/ holds the chosen binaries, their manifests and descriptor sets, a county.yaml the stack accepts, a systemd unit and checksums")
    func packaging() async throws {
        let directory = NSTemporaryDirectory() + "xf-dist-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dist = directory + "/dist"
        let built = try await run(["build", "--plugins", "grid-model,dispatch", "--out", dist, "--package-path", packageRoot(),
                             "--prebuilt", binDirectory(), "--user", "police", "--state-directory", "/srv/xunfang"], in: directory)
        #expect(built.status == 0, "\(built.output)")
        let binaries = try FileManager.default.contentsOfDirectory(atPath: dist + "/bin").sorted()
        #expect(binaries == ["xunfang", "xunfang-plugin-dispatch", "xunfang-plugin-grid-model"])
        for binary in binaries {
            let sections = try await run(["--section-headers", "--wide", dist + "/bin/" + binary], in: directory, executable: "/usr/bin/readelf").output
            #expect(sections.contains(".symtab") && !sections.contains(".debug_info"), "\(binary): debug info stripped, symbols kept")
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dist + "/manifests/dispatch.json"))) as? [String: Any]
        #expect(manifest?["name"] as? String == "dispatch")
        #expect(FileManager.default.fileExists(atPath: dist + "/share/xunfang/descriptors/grid-model.binpb"))
        let unit = try String(contentsOfFile: dist + "/systemd/xunfang.service", encoding: .utf8)
        for line in ["User=police", "WorkingDirectory=/srv/xunfang", "ReadWritePaths=/srv/xunfang", "Restart=on-failure", "UMask=0077",
                     "ExecStart=/opt/xunfang/bin/xunfang up --config /etc/xunfang/county.yaml"] {
            #expect(unit.contains(line), "\(line)")
        }
        #expect(try String(contentsOfFile: dist + "/DEPENDS.debian", encoding: .utf8) == "libglpk40\nlibsqlite3-0\n")
        let config = try String(contentsOfFile: dist + "/county.yaml", encoding: .utf8)
        #expect(config.contains("- name: dispatch") && !config.contains("- name: situation") && !config.contains("- name: template"))
        let county = try ConfigLoader.load(path: dist + "/county.yaml")
        #expect(county.enabledPlugins.map(\.name).sorted() == ["dispatch", "grid-model"])
        let sums = Process()
        sums.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sums.arguments = ["--check", "--quiet", "SHA256SUMS"]
        sums.currentDirectoryURL = URL(fileURLWithPath: dist)
        try sums.run()
        try await exited(sums)
        #expect(sums.terminationStatus == 0)
        #expect(try await run(["build", "--plugins", "nosuch", "--out", dist, "--package-path", packageRoot(), "--prebuilt", binDirectory()],
                        in: directory).status != 0)
    }
}
