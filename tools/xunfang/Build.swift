import ArgumentParser
import Foundation

/// The plugins a package builds: its `xunfang-plugin-<name>` executable products.
enum BuiltInPlugins {
    static func names(packagePath: String) throws -> [String] {
        let manifest = try String(contentsOfFile: "\(packagePath)/Package.swift", encoding: .utf8)
        return manifest.components(separatedBy: ".executable(name: \"xunfang-plugin-").dropFirst()
            .compactMap { $0.split(separator: "\"").first.map(String.init) }
    }

    static func product(_ name: String) -> String { "xunfang-plugin-\(name)" }
}

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build the bus and chosen plugins into dist/ for a county.")
    @Option(help: "Comma-separated plugin names, as in Package.swift's xunfang-plugin-<name> products.")
    var plugins: String
    @Option(help: "Output directory.") var out: String = "dist"
    @Option(help: "Swift build configuration.") var configuration: String = "release"
    @Option(help: "Package directory.") var packagePath: String = "."
    @Flag(help: "Link the Swift runtime dynamically (the binaries then need a Swift toolchain's libraries on the server).")
    var dynamicStdlib = false
    @Option(help: "Where the systemd unit expects dist/ to be installed.") var installPrefix: String = "/opt/xunfang"
    @Option(help: "The county's working directory in the systemd unit (its data lives in <dir>/data).") var stateDirectory: String = "/var/lib/xunfang"
    @Option(help: "The system user the stack runs as in the systemd unit.") var user: String = "xunfang"
    @Option(help: "Package binaries already built in this directory instead of building (a packager's second step).")
    var prebuilt: String?
    @Flag(help: "Keep the DWARF debug info in dist/bin (about ten times the size; symbol names for backtraces are kept either way).")
    var keepDebugInfo = false

    func run() throws {
        let chosen = plugins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let available = try BuiltInPlugins.names(packagePath: packagePath)
        for name in chosen where !available.contains(name) {
            throw ValidationError("unknown plugin \"\(name)\"; available: \(available.joined(separator: ", "))")
        }
        let products = ["xunfang"] + chosen.map(BuiltInPlugins.product)
        let binPath = try prebuilt ?? build(products)
        let files = FileManager.default
        try? files.removeItem(atPath: out)
        for directory in ["bin", "manifests", "share/xunfang/descriptors", "systemd"] {
            try files.createDirectory(atPath: "\(out)/\(directory)", withIntermediateDirectories: true)
        }
        for product in products {
            try files.copyItem(atPath: "\(binPath)/\(product)", toPath: "\(out)/bin/\(product)")
            if !keepDebugInfo { try shell(["strip", "--strip-debug", "\(out)/bin/\(product)"]) }
        }
        for name in chosen {
            let manifest = try capture(["\(out)/bin/\(BuiltInPlugins.product(name))", "--manifest"])
            try manifest.write(toFile: "\(out)/manifests/\(name).json", atomically: true, encoding: .utf8)
            let descriptors = try captureData(["\(out)/bin/\(BuiltInPlugins.product(name))", "--descriptors"])
            if !descriptors.isEmpty { try descriptors.write(to: URL(fileURLWithPath: "\(out)/share/xunfang/descriptors/\(name).binpb")) }
        }
        try sampleConfig(chosen).write(toFile: "\(out)/county.yaml", atomically: true, encoding: .utf8)
        try systemdUnit().write(toFile: "\(out)/systemd/xunfang.service", atomically: true, encoding: .utf8)
        try (Self.debianRuntimePackages.joined(separator: "\n") + "\n").write(toFile: "\(out)/DEPENDS.debian", atomically: true, encoding: .utf8)
        var sums: [String] = []
        let listed = try files.subpathsOfDirectory(atPath: out).filter { path in
            var isDirectory: ObjCBool = false
            return files.fileExists(atPath: "\(out)/\(path)", isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
        for path in listed {
            let line = try capture(["sha256sum", path], directory: out).trimmingCharacters(in: .whitespacesAndNewlines)
            sums.append(line)
        }
        try (sums.joined(separator: "\n") + "\n").write(toFile: "\(out)/SHA256SUMS", atomically: true, encoding: .utf8)
        print("built \(products.joined(separator: ", ")) into \(out)/ (check with: cd \(out) && sha256sum -c SHA256SUMS)")
    }

    /// What the binaries still link dynamically beyond a minimal Debian (libc, libstdc++,
    /// zlib): GLPK (exact post placement in GridModel and `xunfang geo`) and the system
    /// SQLite the plugins' stores use (GRDB links it). Measured with ldd inside a bare
    /// debootstrap root by tools/prove-static-build.
    static let debianRuntimePackages = ["libglpk40", "libsqlite3-0"]

    /// Builds `products` and returns where they are. Self-contained by default: the Swift
    /// runtime and Foundation linked in, so a server needs no toolchain.
    func build(_ products: [String]) throws -> String {
        let linking = dynamicStdlib ? [] : ["--static-swift-stdlib"]
        for product in products {
            try shell(["swift", "build", "--package-path", packagePath, "-c", configuration, "--product", product] + linking)
        }
        return try capture(["swift", "build", "--package-path", packagePath, "-c", configuration, "--show-bin-path"] + linking)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The stack as a systemd service: restarted on failure, private files (umask 077), its
    /// own user, writable only in its state directory. Logs go to the journal, which
    /// rotates them (docs/operations.md).
    func systemdUnit() -> String {
        """
        # Install: apt-get install $(cat dist/DEPENDS.debian); cp -r dist \(installPrefix); cp \(installPrefix)/county.yaml /etc/xunfang/county.yaml
        #          useradd --system --home \(stateDirectory) \(user); install -d -o \(user) -m 0700 \(stateDirectory)
        #          cp \(installPrefix)/systemd/xunfang.service /etc/systemd/system/ && systemctl enable --now xunfang
        [Unit]
        Description=Xunfang county stack (bus and plugins)
        After=network-online.target
        Wants=network-online.target

        [Service]
        Type=simple
        User=\(user)
        Group=\(user)
        WorkingDirectory=\(stateDirectory)
        ExecStart=\(installPrefix)/bin/xunfang up --config /etc/xunfang/county.yaml
        # SIGTERM stops the plugins, then the bus, which syncs its durable log.
        KillSignal=SIGTERM
        TimeoutStopSec=60s
        Restart=on-failure
        RestartSec=5s
        UMask=0077
        NoNewPrivileges=yes
        ProtectSystem=strict
        ProtectHome=yes
        PrivateTmp=yes
        ReadWritePaths=\(stateDirectory)
        LimitNOFILE=65536

        [Install]
        WantedBy=multi-user.target

        """
    }

    /// The demo county restricted to the chosen plugins, as a starting point.
    func sampleConfig(_ chosen: [String]) -> String {
        var lines: [String] = []
        var keep = true
        for line in DemoCounty.yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  - name: ") {
                let name = line.dropFirst("  - name: ".count)
                keep = chosen.contains(String(name)) || name == "ctl"
            } else if !line.hasPrefix("    ") && !line.hasPrefix("  - ") {
                keep = true
            }
            if keep { lines.append(String(line)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

func shell(_ arguments: [String], directory: String? = nil) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ValidationError("\(arguments.joined(separator: " ")) failed with status \(process.terminationStatus)")
    }
}

func capture(_ arguments: [String], directory: String? = nil) throws -> String {
    String(decoding: try captureData(arguments, directory: directory), as: UTF8.self)
}

func captureData(_ arguments: [String], directory: String? = nil) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ValidationError("\(arguments.joined(separator: " ")) failed with status \(process.terminationStatus)")
    }
    return data
}
