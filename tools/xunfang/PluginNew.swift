import ArgumentParser
import Foundation
import XunfangConfig

/// `xunfang plugin new NAME`: a new plugin from Plugins/_Template, ready to build.
struct PluginNewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new", abstract: "Create Plugins/<Name>/ with its contract (proto/, Contract/) from the template, and add it to Package.swift.")
    @Argument(help: "Plugin name: lower-case letters, digits and '-' (e.g. grid-model).") var name: String
    @Option(help: "Package directory.") var packagePath: String = "."
    @Flag(help: "Do not run tools/gen-proto afterwards.") var skipGenerate = false

    func run() throws {
        guard CountyConfig.isValidName(name), name != "template" else {
            throw ValidationError("\"\(name)\" is not a valid plugin name (lower-case letters, digits, '-'; not 'template')")
        }
        let names = PluginNames(name)
        let files = FileManager.default
        let root = packagePath
        let folder = "\(root)/Plugins/\(names.camel)"
        let protoFolder = "\(folder)/proto/xunfang/\(names.proto)/v1"
        guard !files.fileExists(atPath: folder), !files.fileExists(atPath: protoFolder) else {
            throw ValidationError("\(folder) or \(protoFolder) already exists")
        }
        var manifest = try String(contentsOfFile: "\(root)/Package.swift", encoding: .utf8)
        guard let productAnchor = manifest.range(of: "        .executable(name: \"xunfang-plugin-template\", targets: [\"TemplatePluginMain\"]),\n"),
              manifest.contains("        // MARK: - Integration") else {
            throw ValidationError("Package.swift does not have the template's product line and the Integration mark")
        }
        manifest.insert(contentsOf: """
                .executable(name: "\(names.executable)", targets: ["\(names.camel)PluginMain"]),
                .library(name: "\(names.camel)Contract", targets: ["\(names.camel)Contract"]),

        """, at: productAnchor.upperBound)
        manifest = manifest.replacingOccurrences(of: "        // MARK: - Integration", with: """
                .target(
                    name: "\(names.camel)Contract",
                    dependencies: [protobuf],
                    path: "Plugins/\(names.camel)/Contract",
                    swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
                ),
                .target(
                    name: "\(names.camel)Plugin",
                    dependencies: ["XunfangPluginKit", "\(names.camel)Contract", protobuf, logging],
                    path: "Plugins/\(names.camel)/Sources",
                    swiftSettings: swiftSettings
                ),
                .executableTarget(
                    name: "\(names.camel)PluginMain",
                    dependencies: ["\(names.camel)Plugin"],
                    path: "Plugins/\(names.camel)/Main",
                    swiftSettings: swiftSettings
                ),

                // MARK: - Integration
        """)

        try files.createDirectory(atPath: protoFolder, withIntermediateDirectories: true)
        for directory in ["Sources", "Main", "Contract"] {
            try files.createDirectory(atPath: "\(folder)/\(directory)", withIntermediateDirectories: true)
        }
        let copies = [
            ("Plugins/_Template/Sources/TemplatePlugin.swift", "Plugins/\(names.camel)/Sources/\(names.camel)Plugin.swift"),
            ("Plugins/_Template/Main/main.swift", "Plugins/\(names.camel)/Main/main.swift"),
            ("Plugins/_Template/README.md", "Plugins/\(names.camel)/README.md"),
            ("Plugins/_Template/proto/xunfang/template/v1/template.proto", "Plugins/\(names.camel)/proto/xunfang/\(names.proto)/v1/\(names.proto).proto"),
        ]
        for (source, destination) in copies {
            let text = try String(contentsOfFile: "\(root)/\(source)", encoding: .utf8)
            try names.rewrite(text).write(toFile: "\(root)/\(destination)", atomically: true, encoding: .utf8)
        }
        try manifest.write(toFile: "\(root)/Package.swift", atomically: true, encoding: .utf8)
        print("created Plugins/\(names.camel)/ with its contract in proto/xunfang/\(names.proto)/v1/ (\(names.executable), \(names.camel)Contract)")
        if !skipGenerate {
            try shell(["\(root)/tools/gen-proto"], directory: root)
        }
        print("next: swift build --product \(names.executable); add `- name: \(name)` with its ACL to the county config")
    }
}

/// The spellings of one plugin name.
struct PluginNames {
    let name: String        // grid-model
    let camel: String       // GridModel
    let proto: String       // grid_model

    init(_ name: String) {
        self.name = name
        camel = name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        proto = name.replacingOccurrences(of: "-", with: "_")
    }

    var executable: String { "xunfang-plugin-\(name)" }

    /// The template's names replaced by this plugin's, longest first.
    func rewrite(_ text: String) -> String {
        [
            ("Xunfang_Template_V1_", "Xunfang_\(camel)_V1_"),
            ("xunfang.template.v1.Template", "xunfang.\(proto).v1.\(camel)"),
            ("xunfang.template.v1", "xunfang.\(proto).v1"),
            ("xunfang-plugin-template", executable),
            ("TemplatePlugin", "\(camel)Plugin"),
            ("TemplateContract", "\(camel)Contract"),
            ("TemplateDescriptors", "\(camel)Descriptors"),
            ("Template plugin", "\(camel) plugin"),
            ("the template plugin", "the \(name) plugin"),
            ("service Template", "service \(camel)"),
            ("template.note", "\(name).note"),
            ("template.echoed", "\(name).echoed"),
            ("template.>", "\(name).>"),
            ("name: \"template\"", "name: \"\(name)\""),
            ("name: template", "name: \(name)"),
        ].reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }
}
