import ArgumentParser
import Foundation
import Logging

@available(macOS 10.15, *)
struct Xunfang: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xunfang",
        abstract: "Xunfang (巡防): county patrol command platform — bus, plugins, tools.",
        discussion: pluginCommandsHelp(),
        subcommands: [UpCommand.self, BusCommand.self, BuildCommand.self, PluginCommand.self, CtlCommand.self, BenchCommand.self, GeoCommand.self,
                      BackupCommand.self, RestoreCommand.self, HarnessCommand.self])

    /// The installed plugins' commands: `xunfang NAME ARGS...` runs `xunfang-plugin-NAME ARGS...`.
    static func pluginCommandsHelp() -> String {
        let names = installedPlugins().map { String($0.dropFirst("xunfang-plugin-".count)) }
        let listed = names.isEmpty ? "  (none installed beside this xunfang)" : names.map { "  \($0)  (xunfang \($0) --help)" }.joined(separator: "\n")
        return "PLUGIN COMMANDS: `xunfang NAME ARGS...` runs `xunfang-plugin-NAME ARGS...`:\n" + listed
    }
}

struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin", abstract: "Plugins: list those installed, start a new one.", subcommands: [List.self, PluginNewCommand.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List plugin executables and their manifests as JSON.")
        @Option(help: "Directory to look in (default: beside xunfang).") var binDir: String?

        func run() throws {
            let directory = binDir ?? executableDirectory()
            var plugins: [Any] = []
            for name in installedPlugins(in: directory) {
                let manifest = (try? capture(["\(directory)/\(name)", "--manifest"]))
                    .flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
                plugins.append(manifest ?? ["executable": name, "error": "no manifest (not a xunfang plugin?)"])
            }
            printJSON(plugins)
        }
    }
}

/// The `xunfang-plugin-*` executables in `directory` (default: beside xunfang), sorted.
func installedPlugins(in directory: String = executableDirectory()) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasPrefix("xunfang-plugin-") && isExecutableFile("\(directory)/\($0)") }.sorted()
}

/// git-style extension: `xunfang grid-model import ...` runs `xunfang-plugin-grid-model import ...`.
func dispatchToPlugin() {
    let arguments = CommandLine.arguments
    guard arguments.count > 1, !arguments[1].hasPrefix("-") else { return }
    let builtIn = Set(Xunfang.configuration.subcommands.map { $0._commandName } + ["help"])
    guard !builtIn.contains(arguments[1]) else { return }
    let path = "\(executableDirectory())/xunfang-plugin-\(arguments[1])"
    guard isExecutableFile(path) else { return }
    let argv = [path] + arguments.dropFirst(2)
    var cArguments = argv.map { strdup($0) } + [nil]
    execv(path, &cArguments)
    perror("xunfang: exec \(path)")
    exit(127)
}

@main
enum Entry {
    static func main() async {
        // Every file and directory the stack writes is its owner's alone (0600 / 0700):
        // stores hold personal data, and plugins inherit this mask.
        umask(0o077)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["XUNFANG_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        dispatchToPlugin()
        let run: () async -> Void = Xunfang.main
        await run()
    }
}

/// A regular file we may execute (build folders hold `*.product` directories too).
func isExecutableFile(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        && FileManager.default.isExecutableFile(atPath: path)
}
