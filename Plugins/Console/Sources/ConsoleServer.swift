import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import NIOCore
import NIOSSL
import XunfangPluginKit

/// The console over HTTP: sign-in, the page, Leaflet from Debian's libjs-leaflet, the
/// boards' JSON from the plugins, actions passed to the plugins, and a WebSocket of live
/// events. Every action and every refusal is audited.
struct ConsoleServer: Sendable {
    let store: ConsoleStore
    let sessions: Sessions
    let desk: Desk
    let feed: LiveFeed
    let leaflet: String
    /// Served over TLS: cookies are marked Secure and browsers told to keep to HTTPS.
    let secure: Bool
    let now: @Sendable () -> Int64

    static let maxBody = 64 * 1024

    /// HTTP/1.1 with the live WebSocket, inside TLS when configured.
    func httpServer(tls: TLSConfiguration?) throws -> HTTPServerBuilder {
        let plain = HTTPServerBuilder.http1WebSocketUpgrade { head, _, _ in upgrade(head) }
        return try tls.map { try .tls(plain, tlsConfiguration: $0) } ?? plain
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { request, _ in page(request) }
        router.get("/console.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: ConsolePage.script)))
        }
        router.post("/login") { request, context in try await signIn(request, context) }
        router.post("/logout") { request, _ in signOut(request) }
        router.get("/leaflet/**") { _, context in try leafletFile(context.parameters.getCatchAll().joined(separator: "/")) }
        router.get("/api/map") { request, _ in try await read(request, "map") { _ in try await desk.map() } }
        router.get("/api/roads") { request, _ in try await read(request, "roads") { _ in try await desk.roads() } }
        router.get("/api/units") { request, _ in try await read(request, "units") { try await desk.units(station: $0.station) } }
        router.get("/api/incidents") { request, _ in try await read(request, "incidents") { try await desk.incidents(station: $0.station) } }
        router.get("/api/incidents/:id/recommend") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await read(request, "recommend \(id)") { session in
                try await requireScope(session, incident: id)
                return try await desk.recommend(id)
            }
        }
        router.get("/api/colours") { request, _ in try await read(request, "colours") { _ in try await desk.colours() } }
        // Tips name what a member saw and where: for the officers who act on them, audited.
        router.get("/api/tips") { request, _ in try await act(request, "view tips") { ($0.station, try await desk.tips(station: $0.station)) } }
        router.post("/api/tips/:id") { request, context in try await updateTip(request, context) }
        router.get("/api/community") { request, _ in try await read(request, "community alerts") { _ in try await desk.community(now: now()) } }
        router.get("/api/patrol") { request, _ in try await read(request, "patrol compliance") { try await desk.patrol(station: $0.station) } }
        router.get("/api/cameras") { request, _ in try await read(request, "cameras") { _ in try await desk.cameras() } }
        router.get("/api/coverage") { request, _ in try await read(request, "coverage") { _ in try await desk.coverage() } }
        router.get("/api/hot-cells") { request, _ in try await read(request, "hot cells") { _ in try await desk.hotCells() } }
        router.get("/api/checkpoints") { request, _ in try await read(request, "checkpoints") { _ in try await desk.checkpoints() } }
        router.post("/api/seal-plans/:id/activate") { request, context in try await activate(request, context) }
        router.post("/api/seals/:id/stand-down") { request, context in try await standDown(request, context) }
        router.post("/api/moveup/:id/accept") { request, context in try await acceptMoveUp(request, context) }
        router.post("/api/incidents") { request, context in try await create(request, context) }
        router.post("/api/incidents/:id/assign") { request, context in try await assign(request, context) }
        router.post("/api/incidents/:id/personal") { request, context in try await personal(request, context) }
        router.post("/api/incidents/:id/major") { request, context in try await major(request, context) }
        return router
    }

    // MARK: - Sign-in

    func session(_ request: Request) -> Sessions.Session? {
        sessions.session(Sessions.token(fromCookie: request.headers[.cookie]), now: now())
    }

    func page(_ request: Request) -> Response {
        guard let session = session(request) else { return html(ConsolePage.signIn(message: "")) }
        return html(ConsolePage.console(officer: session.officer, role: session.role, station: session.station))
    }

    func signIn(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let form = Self.form(String(buffer: try await request.body.collect(upTo: Self.maxBody)))
        let name = form["name"] ?? "", password = form["password"] ?? ""
        guard (1...64).contains(name.count), (1...256).contains(password.count), let officer = try store.signIn(name, password: password) else {
            try audit(officer: name.isEmpty ? "-" : String(name.prefix(64)), role: "-", "sign in", target: "", outcome: "refused: wrong name or password")
            return html(ConsolePage.signIn(message: "用户名或密码错误 Wrong name or password"), status: .unauthorized)
        }
        let token = sessions.open(officer: name, role: officer.role, station: officer.station, now: now())
        try audit(officer: name, role: officer.role.rawValue, "sign in", target: officer.station, outcome: "ok")
        var response = Response(status: .seeOther, headers: [.location: "/"])
        response.headers[.setCookie] = "\(Sessions.cookie)=\(token); Path=/; HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
        return response
    }

    func signOut(_ request: Request) -> Response {
        let token = Sessions.token(fromCookie: request.headers[.cookie])
        if let session = sessions.session(token, now: now()) {
            try? audit(officer: session.officer, role: session.role.rawValue, "sign out", target: "", outcome: "ok")
        }
        sessions.close(token)
        var response = Response(status: .seeOther, headers: [.location: "/"])
        response.headers[.setCookie] = "\(Sessions.cookie)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\(secure ? "; Secure" : "")"
        return response
    }

    // MARK: - Boards and actions

    /// A board for any signed-in officer; refused (and audited) without a live session.
    func read(_ request: Request, _ what: String, _ answer: (Sessions.Session) async throws -> String) async throws -> Response {
        guard let session = session(request) else { return try refuse(nil, "view \(what)", status: .unauthorized, "not signed in or the session has ended") }
        do {
            return try await json { try await answer(session) }
        } catch let error as BusClientError where error.code == .permissionDenied {
            return try refuse(session, "view \(what)", status: .forbidden, error.message)
        }
    }

    /// A station chief acts on their station's incidents only.
    func requireScope(_ session: Sessions.Session, incident: String) async throws {
        guard !session.station.isEmpty else { return }
        let station = try await desk.station(ofIncident: incident)
        guard station == session.station else {
            throw BusClientError(.permissionDenied, "incident \(incident.prefix(64)) is \(station.isEmpty ? "no station" : "station \(station)")'s; a station chief acts for \(session.station)")
        }
    }

    /// A station chief moves on the tips seen in their station only.
    func requireScope(_ session: Sessions.Session, tip: String) async throws {
        guard !session.station.isEmpty else { return }
        let station = try await desk.station(ofTip: tip)
        guard station == session.station else {
            throw BusClientError(.permissionDenied, "tip \(tip.prefix(64)) was seen in \(station.isEmpty ? "no station" : "station \(station)"); a station chief acts for \(session.station)")
        }
    }

    /// A seal closes roads across stations: the duty officer's, not a station chief's.
    func requireCounty(_ session: Sessions.Session, _ what: String) throws {
        guard session.station.isEmpty else { throw BusClientError(.permissionDenied, "\(what) is the county duty officer's, not a station chief's") }
    }

    /// An action for a duty officer or a station chief, audited with its outcome.
    func act(_ request: Request, _ action: String, _ body: (Sessions.Session) async throws -> (target: String, json: String)) async throws -> Response {
        guard let session = session(request) else { return try refuse(nil, action, status: .unauthorized, "not signed in or the session has ended") }
        guard session.role.acts else { return try refuse(session, action, status: .forbidden, "\(session.role.label) may not act") }
        do {
            let (target, json) = try await body(session)
            try audit(officer: session.officer, role: session.role.rawValue, action, target: target, outcome: "ok")
            return Self.json(json)
        } catch let error as BusClientError {
            try audit(officer: session.officer, role: session.role.rawValue, action, target: "", outcome: "failed: \(error.message)")
            return Self.json(Self.problem(error.message), status: Self.status(of: error))
        }
    }

    /// An action whose request body is a JSON object (anything else reads as no fields).
    func act(_ request: Request, _ action: String,
             fields body: @escaping ([String: Any], Sessions.Session) async throws -> (target: String, json: String)) async throws -> Response {
        let data = Data(buffer: try await request.body.collect(upTo: Self.maxBody))
        return try await act(request, action) { session in
            try await body((try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:], session)
        }
    }

    func create(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        return try await act(request, "create incident") { fields, _ in
            guard let type = fields["type"] as? String, (1...32).contains(type.count),
                  let longitude = fields["longitude"] as? Double, let latitude = fields["latitude"] as? Double,
                  abs(longitude) <= 180, abs(latitude) <= 90 else {
                throw BusClientError(.invalidArgument, "an incident needs type (1 to 32 characters), longitude and latitude")
            }
            let answer = try await desk.create(type: type, longitude: longitude, latitude: latitude, externalID: "console-" + UUID().uuidString)
            return (answer.incident.id, try answer.jsonString(options: Desk.json))
        }
    }

    func assign(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let incident = context.parameters.get("id") ?? ""
        return try await act(request, "assign") { fields, session in
            try await requireScope(session, incident: incident)
            let unit = fields["unit"] as? String ?? ""
            guard unit.count <= 32 else { throw BusClientError(.invalidArgument, "a unit's call sign is at most 32 characters") }
            let answer = try await desk.assign(incident, unit: unit)
            return ("\(incident) → \(answer.unit.callSign)", try answer.jsonString(options: Desk.json))
        }
    }

    /// The caller's words and number, for a duty officer or chief with a purpose; every read
    /// is audited here and in Dispatch, and nothing of it is kept by the console.
    func personal(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let incident = context.parameters.get("id") ?? ""
        return try await act(request, "read personal data") { fields, session in
            try await requireScope(session, incident: incident)
            let purpose = fields["purpose"] as? String ?? ""
            guard (1...256).contains(purpose.utf8.count) else { throw BusClientError(.invalidArgument, "say why the caller's details are read (1 to 256 bytes)") }
            return ("\(incident): \(purpose)", try await desk.readPersonal(incident, officer: session.officer, purpose: purpose))
        }
    }

    /// 一键处置: units ordered, a seal plan activated (or drilled) and a community watch,
    /// in one step through Dispatch's MajorIncident; the officer's name on the seal.
    func major(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let incident = context.parameters.get("id") ?? ""
        return try await act(request, "major incident") { fields, session in
            try await requireScope(session, incident: incident)
            let units = fields["units"] as? Int ?? 0, watchHours = fields["watchHours"] as? Int ?? 0
            let plan = fields["sealPlan"] as? String ?? "", drill = fields["drill"] as? Bool ?? false
            guard (1...64).contains(incident.utf8.count), (0...20).contains(units), (0...12).contains(watchHours), plan.utf8.count <= 64 else {
                throw BusClientError(.invalidArgument, "a major incident takes units 0 to 20 (0: 6), watchHours 0 to 12 and a seal plan id of at most 64 bytes")
            }
            if !plan.isEmpty { try requireCounty(session, "a seal") }
            let answer = try await desk.majorIncident(incident, units: UInt32(units), sealPlan: plan, drill: drill, watchHours: UInt32(watchHours))
            let target = "\(incident): \(answer.orders.count) units" + (answer.sealActivation.isEmpty ? "" : ", seal \(answer.sealActivation)\(drill ? " (drill)" : "")")
                + (answer.watchID.isEmpty ? "" : ", watch \(answer.watchID)")
            return (target, try answer.jsonString(options: Desk.json))
        }
    }

    /// 关城门: a seal plan activated, or drilled, with the officer's reason.
    func activate(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let plan = context.parameters.get("id") ?? ""
        return try await act(request, "activate seal plan") { fields, session in
            try requireCounty(session, "a seal")
            let drill = fields["drill"] as? Bool ?? false, reason = fields["reason"] as? String ?? ""
            guard (1...64).contains(plan.utf8.count), (1...256).contains(reason.utf8.count) else {
                throw BusClientError(.invalidArgument, "a seal needs its plan and a reason (1 to 256 bytes)")
            }
            let activation = try await desk.activate(plan: plan, drill: drill, officer: session.officer, reason: reason)
            return ("\(plan)\(drill ? " (drill)" : "") → \(activation.id)", try activation.jsonString(options: Desk.json))
        }
    }

    /// 调防: a move-up plan's moves ordered (units cross stations: the county duty officer's).
    func acceptMoveUp(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let plan = context.parameters.get("id") ?? ""
        return try await act(request, "accept move-up") { fields, session in
            try requireCounty(session, "a move-up")
            let callSigns = fields["callSigns"] as? [String] ?? []
            guard (1...64).contains(plan.utf8.count), callSigns.count <= 50, callSigns.allSatisfy({ (1...32).contains($0.utf8.count) }) else {
                throw BusClientError(.invalidArgument, "a move-up needs its plan and at most 50 call signs of 1 to 32 bytes")
            }
            let answer = try await desk.acceptMoveUp(plan: plan, callSigns: callSigns)
            return ("\(plan): \(answer.orders.count) ordered" + (answer.refused.isEmpty ? "" : ", \(answer.refused.count) refused"), try answer.jsonString(options: Desk.json))
        }
    }

    /// A member's tip moved on: verifying, verified, forwarded to Dispatch, or dismissed, with why.
    func updateTip(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let tip = context.parameters.get("id") ?? ""
        return try await act(request, "update tip") { fields, session in
            let why = fields["why"] as? String ?? "", type = fields["type"] as? String ?? "", status = fields["status"] as? String ?? ""
            guard (1...64).contains(tip.utf8.count), Desk.tipStates[status] != nil, (1...256).contains(why.utf8.count), type.utf8.count <= 32 else {
                throw BusClientError(.invalidArgument, "a tip moves to verifying, verified, forwarded or dismissed, with why (1 to 256 bytes)")
            }
            try await requireScope(session, tip: tip)
            let answer = try await desk.updateTip(tip, to: status, officer: session.officer, why: why, typeCode: type)
            return ("\(tip) → \(status)" + (answer.tip.incidentID.isEmpty ? "" : " (\(answer.tip.incidentID))"), try answer.jsonString(options: Desk.json))
        }
    }

    func standDown(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let activation = context.parameters.get("id") ?? ""
        return try await act(request, "stand down seal") { fields, session in
            try requireCounty(session, "a seal")
            let reason = fields["reason"] as? String ?? ""
            guard (1...64).contains(activation.utf8.count), (1...256).contains(reason.utf8.count) else {
                throw BusClientError(.invalidArgument, "a stand-down needs the activation and a reason (1 to 256 bytes)")
            }
            let board = try await desk.standDown(activation: activation, officer: session.officer, reason: reason)
            return (activation, try board.jsonString(options: Desk.json))
        }
    }

    // MARK: - Pieces

    func refuse(_ session: Sessions.Session?, _ action: String, status: HTTPResponse.Status, _ why: String) throws -> Response {
        try audit(officer: session?.officer ?? "-", role: session?.role.rawValue ?? "-", action, target: "", outcome: "refused: \(why)")
        return Self.json(Self.problem(why), status: status)
    }

    func audit(officer: String, role: String, _ action: String, target: String, outcome: String) throws {
        try store.audit(ConsoleStore.Entry(at: now(), officer: officer, role: role, action: action, target: target, outcome: outcome))
    }

    /// A board's answer; a plugin's refusal passed on with its status, a refusal of the
    /// officer's scope thrown on to be audited.
    func json(_ answer: () async throws -> String) async throws -> Response {
        do {
            return Self.json(try await answer())
        } catch let error as BusClientError where error.code != .permissionDenied {
            return Self.json(Self.problem(error.message), status: Self.status(of: error))
        }
    }

    static func status(of error: BusClientError) -> HTTPResponse.Status {
        switch error.code {
        case .invalidArgument, .failedPrecondition, .notFound: .badRequest
        case .permissionDenied: .forbidden
        default: .serviceUnavailable
        }
    }

    func leafletFile(_ path: String) throws -> Response {
        let allowed = ["leaflet.js", "leaflet.css", "images/marker-icon.png", "images/marker-shadow.png", "images/layers.png"]
        guard allowed.contains(path), let data = FileManager.default.contents(atPath: "\(leaflet)/\(path)") else { return Response(status: .notFound) }
        let type = path.hasSuffix(".js") ? "text/javascript" : path.hasSuffix(".css") ? "text/css" : "image/png"
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=86400"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .contentSecurityPolicy: ConsolePage.policy]
        if secure { headers[.strictTransportSecurity] = "max-age=31536000" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func problem(_ message: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: ["error": message])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// `application/x-www-form-urlencoded` fields.
    static func form(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    // MARK: - Live

    /// Upgrades `/live` for a signed-in officer: the feed's events for them (a station chief's
    /// station's and the county's), as text frames.
    func upgrade(_ head: HTTPRequest) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard head.path == "/live", let session = sessions.session(Sessions.token(fromCookie: head.headerFields[.cookie]), now: now()) else { return .dontUpgrade }
        return .upgrade([:]) { inbound, outbound, _ in
            let (id, events) = feed.listen(station: session.station)
            defer { feed.stop(id) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await _ in inbound {} }
                group.addTask { for await event in events { try await outbound.write(.text(event)) } }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
