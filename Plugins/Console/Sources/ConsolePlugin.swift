public import XunfangPluginKit
public import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOSSL
import SwiftProtobuf
import CheckpointControlContract
import DispatchContract
import PatrolContract

/// Console (指挥台): the duty officer's live county map in the browser, served by this plugin
/// over HTTP on loopback: grids and stations from GridModel, units and incidents from
/// Dispatch, live positions and statuses over a WebSocket, and the officer's actions (a new
/// incident from the map, its recommendation, an assignment) passed to Dispatch. Officers
/// sign in with roles; every action and refusal is audited. See Plugins/Console/README.md.
public struct ConsolePlugin: Plugin {
    static let feeds = ["unit.position", "unit.status", "incident.>", "checkpoint.status", "checkpoint.seal", "checkpoint.containment", "dispatch.moveup", "patrol.exception",
                        "dispatch.escalation", "checkpoint.escalation", "checkpoint.readiness"]

    public static let manifest = PluginManifest(name: "console", version: "0.1.0", subscribes: feeds, calls: Desk.calls)

    public static var commands: [PluginCommand] {
        [PluginCommand("officer", "add or replace an officer who signs in to the console (password from standard input)") { OfficerCommands.add($0) },
         PluginCommand("audit", "who signed in to the console and what they did, newest first") { OfficerCommands.audit($0) }]
    }

    let store: ConsoleStore
    let dataDirectory: String
    var host = "127.0.0.1"
    var port = 7480
    var sessionMinutes: Int64 = 480
    var demoOfficers = false
    var leaflet = "/usr/share/javascript/leaflet"
    var tls: TLSConfiguration?
    var clock = PluginClock.real
    var logger = Logger(label: "console")

    /// Settings:
    /// - `CONSOLE_ADDRESS` (default `127.0.0.1:7480`): where the console listens; loopback
    ///   only until TLS is configured.
    /// - `CONSOLE_TLS_CERTIFICATE`, `CONSOLE_TLS_PRIVATE_KEY` (PEM files, both or neither):
    ///   HTTPS and WSS only, session cookies marked Secure, any address allowed.
    /// - `CONSOLE_SESSION_MINUTES` (5 to 1440, default 480): a session ends after this long
    ///   without a request.
    /// - `CONSOLE_DEMO_OFFICERS` (`on` or `off`, default off): with no officers yet, a duty
    ///   officer `duty` and a viewer `viewer` with new random passwords, written to
    ///   `officers-demo.txt` (0600) in the plugin's data directory.
    /// - `CONSOLE_LEAFLET` (default Debian's `/usr/share/javascript/leaflet`): Leaflet's files.
    public init(context: PluginContext) throws {
        try self.init(dataDirectory: context.dataDirectory)
        tls = try Self.tls(certificate: context.settings["CONSOLE_TLS_CERTIFICATE"], key: context.settings["CONSOLE_TLS_PRIVATE_KEY"])
        (host, port) = try Self.address(context.settings["CONSOLE_ADDRESS"] ?? "127.0.0.1:7480", encrypted: tls != nil)
        sessionMinutes = Int64(try context.number("CONSOLE_SESSION_MINUTES", in: 5...1_440, default: 480, unit: "minutes"))
        demoOfficers = try context.isOn("CONSOLE_DEMO_OFFICERS", default: false)
        leaflet = context.settings["CONSOLE_LEAFLET"] ?? leaflet
        logger = context.logger
        clock = context.clock
    }

    init(dataDirectory: String) throws {
        self.dataDirectory = dataDirectory
        store = try ConsoleStore(path: "\(dataDirectory)/console.sqlite")
    }

    static func address(_ text: String, encrypted: Bool) throws(SettingError) -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port), colon > text.startIndex else {
            throw SettingError("CONSOLE_ADDRESS is \"\(text)\"; use host:port, e.g. 127.0.0.1:7480")
        }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard encrypted || ["127.0.0.1", "localhost", "::1"].contains(host) else {
            throw SettingError("CONSOLE_ADDRESS \(text) is not on loopback: without CONSOLE_TLS_CERTIFICATE and CONSOLE_TLS_PRIVATE_KEY the console serves plain HTTP, which must not leave this machine")
        }
        return (host, port)
    }

    /// The server's TLS from its PEM files; a missing or unreadable file is named.
    static func tls(certificate: String?, key: String?) throws(SettingError) -> TLSConfiguration? {
        switch (certificate.flatMap { $0.isEmpty ? nil : $0 }, key.flatMap { $0.isEmpty ? nil : $0 }) {
        case (nil, nil): return nil
        case (let certificate?, let key?):
            let chain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey
            do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch { throw SettingError("CONSOLE_TLS_CERTIFICATE \(certificate) is not a readable PEM certificate: \(error)") }
            do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch { throw SettingError("CONSOLE_TLS_PRIVATE_KEY \(key) is not a readable PEM private key: \(error)") }
            guard !chain.isEmpty else { throw SettingError("CONSOLE_TLS_CERTIFICATE \(certificate) holds no certificate") }
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        default:
            throw SettingError("set both CONSOLE_TLS_CERTIFICATE and CONSOLE_TLS_PRIVATE_KEY, or neither")
        }
    }

    public func register(on bus: BusClient) {}

    public func run(on bus: BusClient) async throws {
        if demoOfficers { try seedDemoOfficers() }
        let feed = LiveFeed()
        let server = ConsoleServer(store: store, sessions: Sessions(idleMinutes: sessionMinutes), desk: Desk(bus: bus), feed: feed, leaflet: leaflet,
                                   secure: tls != nil, now: clock.now)
        let app = Application(router: server.router(), server: try server.httpServer(tls: tls),
                              configuration: .init(address: .hostname(host, port: port), serverName: nil), logger: logger)
        logger.info("console listening", metadata: ["xunfang.url": "\(tls == nil ? "http" : "https")://\(host.contains(":") ? "[\(host)]" : host):\(port)/"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            group.addTask { try await Self.follow(bus, into: feed) }
            defer { feed.finish() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Positions, unit changes and incident changes from the bus, as the page's events, each
    /// for its audience (a unit's or an incident's station; seals and plans for everyone).
    static func follow(_ bus: BusClient, into feed: LiveFeed) async throws {
        let stations = UnitStations()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await refresh(stations, from: bus) }
            for pattern in feeds {
                group.addTask {
                    for await delivery in try await bus.subscribe(pattern, bufferLimit: 16_384) {
                        if let (event, audience) = event(delivery, stations: stations) { feed.send(event, to: audience) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Every unit's station from Dispatch, now and each minute (units join with a roster).
    static func refresh(_ stations: UnitStations, from bus: BusClient) async throws {
        while true {
            if let answer = try? await bus.call(Desk.dispatch + "ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self) {
                stations.replace(with: answer.units.map { ($0.callSign, $0.homeStation) })
            }
            try await Task.sleep(for: .seconds(60))
        }
    }

    static func event(_ delivery: Delivery, stations: UnitStations) -> (String, LiveFeed.Audience)? {
        switch delivery.topic {
        case "unit.position":
            guard let position = try? delivery.decode(Xunfang_Dispatch_V1_UnitPosition.self) else { return nil }
            let json = "{\"kind\":\"position\",\"callSign\":\(quoted(position.callSign)),\"longitude\":\(position.position.longitude),\"latitude\":\(position.position.latitude),\"at\":\(position.at)}"
            return (json, .station(stations.station(of: position.callSign) ?? ""))
        case "unit.status":
            guard let unit = try? delivery.decode(Xunfang_Dispatch_V1_Unit.self), let json = try? unit.jsonString(options: Desk.json) else { return nil }
            stations.note(callSign: unit.callSign, station: unit.homeStation)
            return ("{\"kind\":\"unit\",\"unit\":\(json)}", .station(unit.homeStation))
        case "checkpoint.status":
            return ("{\"kind\":\"checkpoint\"}", .everyone)
        case "checkpoint.containment":
            guard let ring = try? delivery.decode(Xunfang_Checkpoint_V1_LiveContainment.self), let json = try? ring.jsonString(options: Desk.json) else { return nil }
            return ("{\"kind\":\"containment\",\"containment\":\(json)}", .everyone)
        case "dispatch.moveup":
            guard let plan = try? delivery.decode(Xunfang_Dispatch_V1_MoveUpResponse.self), let json = try? plan.jsonString(options: Desk.json) else { return nil }
            return ("{\"kind\":\"moveup\",\"plan\":\(json)}", .everyone)
        case "patrol.exception":
            guard let exception = try? delivery.decode(Xunfang_Patrol_V1_PatrolException.self), let json = try? exception.jsonString(options: Desk.json) else { return nil }
            return ("{\"kind\":\"patrol\",\"exception\":\(json)}", .station(stations.station(of: exception.callSign) ?? ""))
        case "dispatch.escalation":
            guard let escalation = try? delivery.decode(Xunfang_Dispatch_V1_Escalation.self), let json = try? escalation.jsonString(options: Desk.json) else { return nil }
            return ("{\"kind\":\"escalation\",\"incident\":\(json)}", .station(escalation.incident.stationID))
        case "checkpoint.escalation":
            guard let escalation = try? delivery.decode(Xunfang_Checkpoint_V1_SealEscalation.self), let json = try? escalation.jsonString(options: Desk.json) else { return nil }
            return ("{\"kind\":\"escalation\",\"seal\":\(json)}", .everyone)
        case "checkpoint.readiness":
            guard let readiness = try? delivery.decode(Xunfang_Checkpoint_V1_SealReadiness.self), let json = try? readiness.jsonString(options: Desk.json) else { return nil }
            return ("{\"kind\":\"readiness\",\"readiness\":\(json)}", .everyone)
        case "checkpoint.seal":
            guard let seal = try? delivery.decode(Xunfang_Checkpoint_V1_SealActivation.self), let json = try? seal.jsonString(options: Desk.json) else { return nil }
            return ("{\"kind\":\"seal\",\"seal\":\(json)}", .everyone)
        default:
            guard let incident = try? delivery.decode(Xunfang_Dispatch_V1_Incident.self), let json = try? incident.jsonString(options: Desk.json) else { return nil }
            return ("{\"kind\":\"incident\",\"incident\":\(json)}", .station(incident.stationID))
        }
    }

    static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8), as: UTF8.self).dropFirst().dropLast().description
    }

    /// The demo county's officers, once: their passwords are new and random, kept for the
    /// newcomer in a file only its owner reads.
    func seedDemoOfficers() throws {
        guard try store.officerCount() == 0 else { return }
        var lines: [String] = []
        for (name, role) in [("duty", Role.duty), ("viewer", Role.viewer)] {
            let password = (0..<12).map { _ in "abcdefghjkmnpqrstuvwxyz23456789".randomElement()! }.map(String.init).joined()
            try store.put(officer: name, role: role, password: password)
            lines.append("\(name) \(password) (\(role.label))")
        }
        let path = "\(dataDirectory)/officers-demo.txt"
        FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8), attributes: [.posixPermissions: 0o600])
        logger.info("demo officers made", metadata: ["xunfang.passwords": "\(path)"])
    }
}
