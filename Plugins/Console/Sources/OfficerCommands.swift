import Foundation
import XunfangPluginKit

/// `xunfang console officer` and `xunfang console audit`: the console's officers and its
/// audit log, read and written in the plugin's store under the county's data directory.
enum OfficerCommands {
    static func store(_ options: [String: String]) throws -> ConsoleStore {
        let directory = "\(options["--data-dir"] ?? ProcessInfo.processInfo.environment["XUNFANG_DATA_DIR"] ?? "data")/console"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return try ConsoleStore(path: "\(directory)/console.sqlite")
    }

    /// `officer --name NAME --role duty|chief|analyst|viewer [--station ID] [--data-dir DIR]`, the password on
    /// standard input; a station chief names their station.
    static func add(_ arguments: [String]) -> Int32 {
        let roles = Role.allCases.map(\.rawValue).joined(separator: "|")
        guard let options = commandOptions(arguments, allowed: ["--name", "--role", "--station", "--data-dir"]), let name = options["--name"],
              let role = options["--role"].flatMap(Role.init(rawValue:)) else {
            return fail("officer", "usage: xunfang console officer --name NAME --role \(roles) [--station ID (a chief's)] [--data-dir DIR] < password")
        }
        guard (1...64).contains(name.count), name.allSatisfy({ !$0.isWhitespace }) else { return fail("officer", "a name is 1 to 64 characters, no spaces") }
        let password = (readLine(strippingNewline: true) ?? "")
        guard (10...256).contains(password.count) else { return fail("officer", "give a password of 10 to 256 characters on standard input") }
        do {
            try store(options).put(officer: name, role: role, password: password, station: options["--station"] ?? "")
            print("\(name): \(role.label)\(options["--station"].map { " · \($0)" } ?? "")")
            return 0
        } catch {
            return fail("officer", "\(error)")
        }
    }

    /// `audit [--limit N] [--data-dir DIR]`.
    static func audit(_ arguments: [String]) -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--limit", "--data-dir"]) else {
            return fail("audit", "usage: xunfang console audit [--limit N] [--data-dir DIR]")
        }
        do {
            for entry in try store(options).audit(limit: min(10_000, Int(options["--limit"] ?? "") ?? 50)) {
                print("\(ChinaTime.format(milliseconds: entry.at))  \(entry.officer) (\(entry.role))  \(entry.action)  \(entry.target)  \(entry.outcome)")
            }
            return 0
        } catch {
            return fail("audit", "\(error)")
        }
    }

    static func fail(_ command: String, _ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang console \(command): \(message)\n".utf8))
        return 1
    }
}
