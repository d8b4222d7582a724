public import Foundation

/// A setting a plugin cannot start with: the message names the key, the value and what
/// is allowed, so the county's IT sees what to fix in the log's first line.
public struct SettingError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension PluginContext {
    /// A number setting within `range`, or `fallback` when it is unset or empty.
    /// - Parameter unit: what the number counts, for the error ("seconds", "metres").
    public func number(_ key: String, in range: ClosedRange<Double>, default fallback: Double, unit: String) throws(SettingError) -> Double {
        guard let text = settings[key]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return fallback }
        guard let value = Double(text), range.contains(value) else {
            throw SettingError("\(key) is \"\(text)\"; use \(unit) from \(Self.plain(range.lowerBound)) to \(Self.plain(range.upperBound))")
        }
        return value
    }

    /// An `on` / `off` setting, or `fallback` when it is unset or empty.
    public func isOn(_ key: String, default fallback: Bool) throws(SettingError) -> Bool {
        switch settings[key]?.trimmingCharacters(in: .whitespaces) ?? "" {
        case "": return fallback
        case "on": return true
        case "off": return false
        case let other: throw SettingError("\(key) is \"\(other)\"; use on or off")
        }
    }

    /// 30 rather than 30.0, 0.5 as it is.
    private static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

extension PluginContext {
    /// A secret read from the file a setting names (a token, a password): refused when others
    /// may read the file, trimmed; nil when the setting is unset or empty.
    public func secret(fromFileIn key: String) throws(SettingError) -> String? {
        guard let path = settings[key], !path.isEmpty else { return nil }
        var info = stat()
        guard stat(path, &info) == 0, let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw SettingError("\(key): cannot read \(path)") }
        guard info.st_mode & 0o077 == 0 else {
            throw SettingError("\(key): \(path) may be read by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty, !secret.contains(where: \.isNewline) else { throw SettingError("\(key): \(path) must hold one line") }
        return secret
    }
}
