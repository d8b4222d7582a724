import Foundation
import Synchronization

/// Signed-in officers by session token (32 random bytes, kept only in memory: a restart signs
/// everyone out). A session ends after `idle` without a request, or at sign-out.
final class Sessions: Sendable {
    struct Session: Sendable, Equatable {
        let officer: String
        let role: Role
        /// A station chief's station: boards show it alone and actions stay in it; "" for the county.
        var station = ""
        var lastSeen: Int64
    }

    static let cookie = "xf_session"
    let idle: Int64
    private let sessions = Mutex<[String: Session]>([:])

    init(idleMinutes: Int64) {
        idle = idleMinutes * 60_000
    }

    func open(officer: String, role: Role, station: String = "", now: Int64) -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        sessions.withLock { $0[token] = Session(officer: officer, role: role, station: station, lastSeen: now) }
        return token
    }

    /// The session for a token still alive, kept alive by this request; nil for a forged,
    /// ended or expired one.
    func session(_ token: String?, now: Int64) -> Session? {
        guard let token, !token.isEmpty else { return nil }
        return sessions.withLock { sessions in
            guard var session = sessions[token] else { return nil }
            guard now - session.lastSeen < idle else {
                sessions[token] = nil
                return nil
            }
            session.lastSeen = now
            sessions[token] = session
            return session
        }
    }

    func close(_ token: String?) {
        guard let token else { return }
        _ = sessions.withLock { $0.removeValue(forKey: token) }
    }

    /// The session token in a Cookie header.
    static func token(fromCookie header: String?) -> String? {
        header?.split(separator: ";").lazy.map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix(cookie + "=") }.map { String($0.dropFirst(cookie.count + 1)) }
    }
}
