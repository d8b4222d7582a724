import Foundation
import XunfangConfig

/// Resolves every principal's secret: the configured one, or one generated once and kept
/// in `<data>/credentials/<name>` (mode 0600) so the supervisor, `ctl` and a plugin
/// started by hand can all read it, and nobody else can.
enum Credentials {
    static func directory(_ config: CountyConfig) -> String { "\(config.dataDirectory)/credentials" }

    static func resolve(_ config: CountyConfig) throws -> [String: String] {
        let directory = directory(config)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var result: [String: String] = [:]
        for principal in config.principals {
            if let configured = principal.credential {
                result[principal.name] = configured
                continue
            }
            let path = "\(directory)/\(principal.name)"
            if let stored = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), stored.count >= 16 {
                result[principal.name] = stored
                continue
            }
            var generator = SystemRandomNumberGenerator()
            let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
            guard FileManager.default.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ConfigError("cannot write credential file \(path)")
            }
            result[principal.name] = secret
        }
        return result
    }

    static func read(dataDirectory: String, name: String) throws -> String {
        let path = "\(dataDirectory)/credentials/\(name)"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("no credential at \(path): start the stack with `xunfang up` first, or pass --credential-file")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
