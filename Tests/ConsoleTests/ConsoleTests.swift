@testable import ConsolePlugin
import DispatchContract
import DispatchPlugin
import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdTLS
import NIOSSL
import Logging
import Synchronization
import Testing
import XunfangBusServer
import XunfangConfig
import XunfangPluginKit
import XunfangTestSupport

@Suite("The console over HTTP, with Dispatch on a real bus")
struct ConsoleTests {
    static let secret = "console-test-secret-0123456789"
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A bus in process with Dispatch on it, and the console's server in a fresh directory,
    /// officers `duty` (duty officer) and `guest` (viewer).
    static func console(secure: Bool = false) async throws -> (server: ConsoleServer, dispatch: BusClient, bus: BusServer, clients: [BusClient], run: Task<Void, any Error>) {
        let directory = NSTemporaryDirectory() + "xf-console-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: "\(directory)/dispatch", withIntermediateDirectories: true)
        let names = ["dispatch", "console"]
        var config = CountyConfig(county: "Test", dataDirectory: directory, principals: names.map { PrincipalConfig(name: $0, credential: secret, acl: .unrestricted) })
        config.bus.pingIntervalMilliseconds = 600_000
        let server = BusServer(config: config, credentials: Dictionary(uniqueKeysWithValues: names.map { ($0, secret) }), logger: quiet)
        _ = try await server.start()
        let bus = InProcessBus(broker: server.broker!, eventLoop: server.eventLoop)
        let dispatchPlugin = try DispatchPlugin(context: PluginContext(instance: "dispatch", dataDirectory: "\(directory)/dispatch", settings: [:], logger: quiet))
        let dispatch = BusClient(transport: .inProcess(bus), manifest: DispatchPlugin.manifest, credential: secret, logger: quiet, callTimeout: .seconds(120))
        dispatchPlugin.register(on: dispatch)
        try await dispatch.start()
        let run = Task { try await dispatchPlugin.run(on: dispatch) }
        let console = BusClient(transport: .inProcess(bus), manifest: PluginManifest(name: "console", version: "1.0.0"), credential: secret, logger: quiet, callTimeout: .seconds(120))
        try await console.start()
        let plugin = try ConsolePlugin(dataDirectory: directory)
        try plugin.store.put(officer: "duty", role: .duty, password: "duty-password-1")
        try plugin.store.put(officer: "guest", role: .viewer, password: "guest-password-1")
        let consoleServer = ConsoleServer(store: plugin.store, sessions: Sessions(idleMinutes: 60), desk: Desk(bus: console), feed: LiveFeed(),
                                          leaflet: "/usr/share/javascript/leaflet", secure: secure, now: { Int64(Date().timeIntervalSince1970 * 1_000) })
        return (consoleServer, dispatch, server, [dispatch, console], run)
    }

    static func form(_ name: String, _ password: String) -> ByteBuffer { ByteBuffer(string: "name=\(name)&password=\(password)") }

    /// Signs in and returns the session cookie.
    static func signIn(_ client: some TestClientProtocol, _ name: String, _ password: String) async throws -> HTTPFields {
        let response = try await client.execute(uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: form(name, password))
        #expect(response.status == .seeOther)
        let cookie = try #require(response.headers[.setCookie]?.split(separator: ";").first.map(String.init))
        return [.cookie: cookie]
    }

    @Test("sign-in: a wrong password or a forged session gets the sign-in page, audited; the right one the console, named and with its role")
    func signIn() async throws {
        let (server, _, bus, clients, run) = try await Self.console()
        defer { run.cancel() }
        let app = Application(router: server.router())
        try await app.test(.router) { client in
            let wrong = try await client.execute(uri: "/login", method: .post, body: Self.form("duty", "nope"))
            #expect(wrong.status == .unauthorized && String(buffer: wrong.body).contains("Wrong name or password"))
            let forged = try await client.execute(uri: "/", method: .get, headers: [.cookie: "xf_session=forged"])
            #expect(String(buffer: forged.body).contains("id=\"signin\""))
            let board = try await client.execute(uri: "/api/units", method: .get, headers: [.cookie: "xf_session=forged"])
            #expect(board.status == .unauthorized)
            let cookie = try await Self.signIn(client, "duty", "duty-password-1")
            let page = try await client.execute(uri: "/", method: .get, headers: cookie)
            #expect(String(buffer: page.body).contains("duty · 值班员 duty officer") && page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let out = try await client.execute(uri: "/logout", method: .post, headers: cookie)
            #expect(out.status == .seeOther)
            #expect(String(buffer: try await client.execute(uri: "/", method: .get, headers: cookie).body).contains("id=\"signin\""), "signed out")
        }
        let audit = try server.store.audit(limit: 10).reversed().map { "\($0.officer) \($0.action): \($0.outcome)" }
        #expect(audit == ["duty sign in: refused: wrong name or password", "- view units: refused: not signed in or the session has ended",
                          "duty sign in: ok", "duty sign out: ok"], "\(audit)")
        for client in clients { await client.close() }
        await bus.stop()
    }

    @Test("the duty officer creates an incident from the map, sees its recommendation and assigns; a viewer's try is refused and changes nothing; bad bodies are refused")
    func actions() async throws {
        let (server, dispatch, bus, clients, run) = try await Self.console()
        defer { run.cancel() }
        // C001 reports where it is; Dispatch takes it from unit.position.
        var position = Xunfang_Dispatch_V1_UnitPosition()
        position.callSign = "C001"
        position.position.longitude = 104.285
        position.position.latitude = 30.979
        position.at = Int64(Date().timeIntervalSince1970 * 1_000)
        var placed = false
        for _ in 0..<400 where !placed {
            try await clients[1].publish("unit.position", position)
            let units = try await dispatch.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units
            placed = units.contains { $0.callSign == "C001" && $0.positionAt > 0 }
            if !placed { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(placed)
        let app = Application(router: server.router())
        try await app.test(.router) { client in
            let body = ByteBuffer(string: #"{"type":"theft","longitude":104.284,"latitude":30.978}"#)
            var viewer = try await Self.signIn(client, "guest", "guest-password-1")
            viewer[.contentType] = "application/json"
            let refused = try await client.execute(uri: "/api/incidents", method: .post, headers: viewer, body: body)
            #expect(refused.status == .forbidden)
            let listed = String(buffer: try await client.execute(uri: "/api/incidents", method: .get, headers: viewer).body)
            #expect(!listed.contains("INC-"), "nothing was created: \(listed)")

            var duty = try await Self.signIn(client, "duty", "duty-password-1")
            duty[.contentType] = "application/json"
            let bad = try await client.execute(uri: "/api/incidents", method: .post, headers: duty, body: ByteBuffer(string: #"{"type":"theft","longitude":"east"}"#))
            #expect(bad.status == .badRequest && String(buffer: bad.body).contains("longitude and latitude"))
            let created = try await client.execute(uri: "/api/incidents", method: .post, headers: duty, body: body)
            let incident = try #require(try JSONSerialization.jsonObject(with: Data(buffer: created.body)) as? [String: Any])["incident"] as? [String: Any]
            let id = try #require(incident?["id"] as? String)
            let ranked = try await client.execute(uri: "/api/incidents/\(id)/recommend", method: .get, headers: duty)
            #expect(String(buffer: ranked.body).contains("\"callSign\":\"C001\""), "\(String(buffer: ranked.body))")
            let assigned = try await client.execute(uri: "/api/incidents/\(id)/assign", method: .post, headers: duty, body: ByteBuffer(string: #"{"unit":"C001"}"#))
            #expect(assigned.status == .ok && String(buffer: assigned.body).contains("UNIT_STATUS_ASSIGNED"))
            let again = try await client.execute(uri: "/api/incidents/NO-SUCH/assign", method: .post, headers: duty, body: ByteBuffer(string: "{}"))
            #expect(again.status == .badRequest, "\(String(buffer: again.body))")

            // The caller's details: for the duty officer with a purpose, not for a viewer, not without one.
            var call = Xunfang_Dispatch_V1_IntakeRequest()
            call.typeCode = "dispute"
            call.location.longitude = 104.27
            call.location.latitude = 30.97
            call.report = "邻居吵架 neighbours shouting"
            call.callerPhone = "138 0000 0000"
            let called = try await dispatch.call("/xunfang.dispatch.v1.Dispatch/Intake", call, as: Xunfang_Dispatch_V1_IntakeResponse.self).incident.id
            let read = try await client.execute(uri: "/api/incidents/\(called)/personal", method: .post, headers: duty, body: ByteBuffer(string: #"{"purpose":"call the caller back"}"#))
            #expect(read.status == .ok && String(buffer: read.body).contains("138 0000 0000") && String(buffer: read.body).contains("邻居吵架"), "\(String(buffer: read.body))")
            let noPurpose = try await client.execute(uri: "/api/incidents/\(called)/personal", method: .post, headers: duty, body: ByteBuffer(string: "{}"))
            #expect(noPurpose.status == .badRequest)
            let peek = try await client.execute(uri: "/api/incidents/\(called)/personal", method: .post, headers: viewer, body: ByteBuffer(string: #"{"purpose":"curious"}"#))
            #expect(peek.status == .forbidden && !String(buffer: peek.body).contains("138"))

            // 一键处置 and a seal's stand-down: bounded bodies, acts only, and Dispatch's own answer.
            let tooMany = try await client.execute(uri: "/api/incidents/\(id)/major", method: .post, headers: duty, body: ByteBuffer(string: #"{"units":500}"#))
            #expect(tooMany.status == .badRequest && String(buffer: tooMany.body).contains("units 0 to 20"))
            let viewerMajor = try await client.execute(uri: "/api/incidents/\(id)/major", method: .post, headers: viewer, body: ByteBuffer(string: "{}"))
            #expect(viewerMajor.status == .forbidden)
            let major = try await client.execute(uri: "/api/incidents/\(id)/major", method: .post, headers: duty, body: ByteBuffer(string: #"{"units":1}"#))
            // Its one unit with a position is at the scene already: Dispatch says why no more went.
            #expect(major.status == .ok && String(buffer: major.body).contains("\"note\""), "\(String(buffer: major.body))")
            let noReason = try await client.execute(uri: "/api/seals/TOWN-1/stand-down", method: .post, headers: duty, body: ByteBuffer(string: "{}"))
            #expect(noReason.status == .badRequest && String(buffer: noReason.body).contains("a reason"))
            let viewerStandDown = try await client.execute(uri: "/api/seals/TOWN-1/stand-down", method: .post, headers: viewer, body: ByteBuffer(string: #"{"reason":"x"}"#))
            #expect(viewerStandDown.status == .forbidden)
            // Tips name what a member saw and where: not for a viewer; a tip moves only to a known state, with why.
            let viewerTips = try await client.execute(uri: "/api/tips", method: .get, headers: viewer)
            #expect(viewerTips.status == .forbidden)
            let badTip = try await client.execute(uri: "/api/tips/TIP-000001", method: .post, headers: duty, body: ByteBuffer(string: #"{"status":"closed","why":"x"}"#))
            #expect(badTip.status == .badRequest && String(buffer: badTip.body).contains("verifying, verified, forwarded or dismissed"))
            let noWhy = try await client.execute(uri: "/api/tips/TIP-000001", method: .post, headers: duty, body: ByteBuffer(string: #"{"status":"verified"}"#))
            #expect(noWhy.status == .badRequest)
        }
        let audit = try server.store.audit(limit: 40).reversed().map { "\($0.officer) \($0.action) \($0.target): \($0.outcome)" }
        #expect(audit.contains("guest create incident : refused: 查看 viewer may not act"), "\(audit)")
        #expect(audit.contains { $0.hasPrefix("duty create incident INC-") && $0.hasSuffix(": ok") } && audit.contains { $0.hasPrefix("duty assign INC-") && $0.contains("→ C001: ok") })
        #expect(audit.contains { $0.hasPrefix("duty create incident : failed: an incident needs type") })
        #expect(audit.contains { $0.hasPrefix("duty read personal data INC-") && $0.hasSuffix(": call the caller back: ok") }, "\(audit)")
        #expect(audit.contains("guest read personal data : refused: 查看 viewer may not act"), "\(audit)")
        #expect(audit.contains { $0.hasPrefix("duty major incident INC-") && $0.hasSuffix(": ok") } && audit.contains("guest stand down seal : refused: 查看 viewer may not act"), "\(audit)")
        #expect(audit.contains("guest view tips : refused: 查看 viewer may not act"), "\(audit)")
        // Dispatch's own audit names the officer at the console.
        let dispatchAudit = try await dispatch.call("/xunfang.dispatch.v1.Dispatch/Audit", Xunfang_Dispatch_V1_AuditRequest(), as: Xunfang_Dispatch_V1_AuditResponse.self)
        let dispatchLines = try dispatchAudit.jsonString()
        #expect(dispatchLines.contains("duty") && dispatchLines.contains("call the caller back"), "\(dispatchLines)")
        for client in clients { await client.close() }
        await bus.stop()
    }

    @Test("a station chief sees their station's units and incidents only, acts on no other station's incident, and may not seal; the store refuses a chief without a station")
    func stationChief() async throws {
        let (server, dispatch, bus, clients, run) = try await Self.console()
        defer { run.cancel() }
        let units = try await dispatch.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units
        let station = try #require(units.first?.homeStation)
        let theirs = units.filter { $0.homeStation == station }.count
        #expect(theirs > 0 && theirs < units.count)
        try server.store.put(officer: "chief", role: .chief, password: "chief-password-1", station: station)
        #expect(throws: ConsoleError.self) { try server.store.put(officer: "chief2", role: .chief, password: "chief-password-1") }
        #expect(throws: ConsoleError.self) { try server.store.put(officer: "duty2", role: .duty, password: "duty-password-2", station: station) }
        // Taken without GridModel, the call has no station: not the chief's.
        var call = Xunfang_Dispatch_V1_IntakeRequest()
        call.typeCode = "theft"
        call.location.longitude = 104.27
        call.location.latitude = 30.97
        let incident = try await dispatch.call("/xunfang.dispatch.v1.Dispatch/Intake", call, as: Xunfang_Dispatch_V1_IntakeResponse.self).incident.id
        let app = Application(router: server.router())
        try await app.test(.router) { client in
            var chief = try await Self.signIn(client, "chief", "chief-password-1")
            chief[.contentType] = "application/json"
            let page = String(buffer: try await client.execute(uri: "/", method: .get, headers: chief).body)
            #expect(page.contains("data-station=\"\(station)\"") && page.contains("所长 station chief"))
            let listed = try JSONSerialization.jsonObject(with: Data(buffer: try await client.execute(uri: "/api/units", method: .get, headers: chief).body)) as? [String: Any]
            let shown = (listed?["units"] as? [[String: Any]] ?? []).map { $0["homeStation"] as? String ?? "" }
            #expect(shown.count == theirs && shown.allSatisfy { $0 == station }, "their station's \(theirs) units only")
            let incidents = String(buffer: try await client.execute(uri: "/api/incidents", method: .get, headers: chief).body)
            #expect(!incidents.contains(incident), "another station's incident is not on their board")
            let assign = try await client.execute(uri: "/api/incidents/\(incident)/assign", method: .post, headers: chief, body: ByteBuffer(string: "{}"))
            #expect(assign.status == .forbidden && String(buffer: assign.body).contains("a station chief acts for \(station)"), "\(String(buffer: assign.body))")
            let seal = try await client.execute(uri: "/api/seal-plans/TOWN/activate", method: .post, headers: chief, body: ByteBuffer(string: #"{"reason":"x"}"#))
            #expect(seal.status == .forbidden && String(buffer: seal.body).contains("the county duty officer's"))
            let moveUp = try await client.execute(uri: "/api/moveup/MU-1/accept", method: .post, headers: chief, body: ByteBuffer(string: "{}"))
            #expect(moveUp.status == .forbidden && String(buffer: moveUp.body).contains("a move-up is the county duty officer's"))
            let recommend = try await client.execute(uri: "/api/incidents/\(incident)/recommend", method: .get, headers: chief)
            #expect(recommend.status == .forbidden, "another station's recommendation: \(String(buffer: recommend.body))")
            let unknown = try await client.execute(uri: "/api/incidents/INC-none/recommend", method: .get, headers: chief)
            #expect(unknown.status == .badRequest && String(buffer: unknown.body).contains("no incident INC-none"))
        }
        let audit = try server.store.audit(limit: 10).map { "\($0.officer) \($0.action) \($0.target): \($0.outcome)" }
        #expect(audit.contains("chief sign in \(station): ok") && audit.contains { $0.hasPrefix("chief assign : failed: incident \(incident) is no station's") }, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("chief view recommend \(incident) : refused: incident \(incident) is no station's") }, "\(audit)")
        for client in clients { await client.close() }
        await bus.stop()
    }

    @Test("the live feed: a station chief hears their station's units and the county's seals, not another station's units; a county officer hears all")
    func liveFeedScope() async throws {
        let (_, dispatch, bus, clients, run) = try await Self.console()
        defer { run.cancel() }
        let units = try await dispatch.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units
        let station = try #require(units.first?.homeStation)
        let mine = try #require(units.first { $0.homeStation == station }?.callSign), other = try #require(units.first { $0.homeStation != station }?.callSign)
        let feed = LiveFeed()
        let following = Task { try await ConsolePlugin.follow(clients[1], into: feed) }
        defer { following.cancel() }
        let heard = Heard()
        let listeners = [("chief", feed.listen(station: station).events), ("county", feed.listen().events)].map { name, events in
            Task { for await event in events { heard.events.withLock { $0[name, default: []].append(event) } } }
        }
        defer { listeners.forEach { $0.cancel() } }
        func position(_ callSign: String) -> Xunfang_Dispatch_V1_UnitPosition {
            .with {
                $0.callSign = callSign
                $0.position.longitude = 104.28
                $0.position.latitude = 30.97
                $0.at = Int64(Date().timeIntervalSince1970 * 1_000)
            }
        }
        let bothHeard = try await eventually(within: 60) {
            try await dispatch.publishConfirmed("unit.position", position(other))
            try await dispatch.publishConfirmed("unit.position", position(mine))
            try await dispatch.publishConfirmed("checkpoint.status", Xunfang_Dispatch_V1_UnitPosition())
            let (chief, county) = heard.events.withLock { ($0["chief"] ?? [], $0["county"] ?? []) }
            return chief.contains { $0.contains("\"\(mine)\"") } && chief.contains { $0.contains("checkpoint") } && county.contains { $0.contains("\"\(other)\"") }
        }
        #expect(bothHeard, "the chief heard their unit and the checkpoints, the county every unit")
        let chief = heard.events.withLock { $0["chief"] ?? [] }
        #expect(!chief.contains { $0.contains("\"\(other)\"") }, "another station's unit \(other) reached the chief's page")
        for client in clients { await client.close() }
        await bus.stop()
    }

    /// What each listener of a feed heard, by listener.
    final class Heard: Sendable {
        let events = Mutex<[String: [String]]>([:])
    }

    @Test("a session ends after its idle time; Leaflet's files are served, nothing else under its path; the address must be on loopback")
    func sessionsAndFiles() async throws {
        let sessions = Sessions(idleMinutes: 5)
        let token = sessions.open(officer: "duty", role: .duty, now: 0)
        #expect(sessions.session(token, now: 4 * 60_000)?.officer == "duty")
        #expect(sessions.session(token, now: 8 * 60_000)?.officer == "duty", "kept alive by the request at 4 minutes")
        #expect(sessions.session(token, now: 14 * 60_000) == nil && sessions.session(token, now: 14 * 60_000 + 1) == nil, "gone after 5 idle minutes")
        #expect(Sessions.token(fromCookie: "a=b; xf_session=abc; c=d") == "abc" && Sessions.token(fromCookie: "a=b") == nil)
        #expect(throws: SettingError.self) { try ConsolePlugin.address("0.0.0.0:7480", encrypted: false) }
        #expect(try ConsolePlugin.address("127.0.0.1:7481", encrypted: false) == ("127.0.0.1", 7481))

        let (server, _, bus, clients, run) = try await Self.console()
        defer { run.cancel() }
        let app = Application(router: server.router())
        try await app.test(.router) { client in
            let traversal = try await client.execute(uri: "/leaflet/../../../etc/passwd", method: .get)
            #expect(traversal.status == .notFound)
            let script = try await client.execute(uri: "/console.js", method: .get)
            #expect(String(buffer: script.body).contains("new WebSocket"))
            if FileManager.default.fileExists(atPath: "/usr/share/javascript/leaflet/leaflet.js") {
                let leaflet = try await client.execute(uri: "/leaflet/leaflet.js", method: .get)
                #expect(leaflet.status == .ok && leaflet.headers[.contentType] == "text/javascript")
            }
        }
        for client in clients { await client.close() }
        await bus.stop()
    }

    @Test("with a certificate: HTTPS only, Secure cookies; off loopback only with TLS; half a TLS setting or a bad file is refused, named")
    func tls() async throws {
        let directory = NSTemporaryDirectory() + "xf-console-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (certificate, key) = try TestCertificate.make(in: directory, name: "console")
        #expect(try ConsolePlugin.address("0.0.0.0:443", encrypted: true) == ("0.0.0.0", 443))
        #expect(try ConsolePlugin.address("[::]:8443", encrypted: true) == ("::", 8443))
        #expect(throws: SettingError.self) { try ConsolePlugin.tls(certificate: certificate, key: nil) }
        #expect(throws: SettingError.self) { try ConsolePlugin.tls(certificate: key, key: key) }
        #expect(throws: SettingError.self) { try ConsolePlugin.tls(certificate: certificate, key: "\(directory)/missing.key") }
        let configuration = try #require(try ConsolePlugin.tls(certificate: certificate, key: key))

        let (server, _, bus, clients, run) = try await Self.console(secure: true)
        defer { run.cancel() }
        let port = AsyncStream<Int>.makeStream()
        let app = Application(router: server.router(), server: try server.httpServer(tls: configuration),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.continuation.yield(channel.localAddress?.port ?? 0) }, logger: Self.quiet)
        let serving = Task { try await app.run() }
        defer { serving.cancel() }
        var ports = port.stream.makeAsyncIterator()
        let listening = try #require(await ports.next())
        var trusting = TLSConfiguration.makeClientConfiguration()
        trusting.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate))
        try await TestClient.withClient(host: "localhost", port: listening, configuration: .init(tlsConfiguration: trusting)) { client in
            let page = try await client.get("/")
            #expect(page.status == .ok && String(buffer: page.body ?? ByteBuffer()).contains("id=\"signin\""))
            #expect(page.headers[.strictTransportSecurity] == "max-age=31536000")
            let signedIn = try await client.post("/login", headers: [.contentType: "application/x-www-form-urlencoded"], body: Self.form("duty", "duty-password-1"))
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.setCookie]?.hasSuffix("; Secure") == true, "\(signedIn.headers[.setCookie] ?? "no cookie")")
        }
        // Plain HTTP to the same port is not answered.
        await #expect(throws: (any Error).self) {
            try await TestClient.withClient(host: "localhost", port: listening, configuration: .init(timeout: .seconds(5))) { client in
                _ = try await client.get("/")
            }
        }
        for client in clients { await client.close() }
        await bus.stop()
    }
}
