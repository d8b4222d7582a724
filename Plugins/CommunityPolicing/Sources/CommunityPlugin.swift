public import XunfangPluginKit
public import Foundation
public import Logging
import XunfangOutbox
import XunfangGeo
import Synchronization
import CommunityPolicingContract
import SituationAnalysisContract
import GridModelContract
import DispatchContract

/// CommunityPolicing (群防群治): volunteer teams and information officers, their base
/// ledgers, their contact details as personal data, and targeted alerts. See
/// Plugins/CommunityPolicing/README.md.
public struct CommunityPlugin: Plugin {
    static let service = "/xunfang.community.v1.Community/"
    static let methods = ["ImportLedger", "ExportLedger", "ListTeams", "ListMembers", "ReadContact", "Audit", "RotateKey",
                          "SetMemberStatus", "IssueAlerts", "ListAlerts", "RegisterSigner", "AppendRecord", "SignPage", "ListRecords",
                          "SubmitTip", "UpdateTip", "GetTip", "ListTips", "PublicTips", "Compliance", "RequestWatch", "CloseWatch",
                          "ListWatches"].map { service + $0 }
    static let warningTopic = "situation.warning"
    static let alertTopic = "community.alert.>"
    static let complianceTopic = "community.compliance.>"
    static let listAreas = "/xunfang.grid_model.v1.GridModel/ListAreas"
    static let locate = "/xunfang.grid_model.v1.GridModel/Locate"
    /// The roads a watch covers; optional (only watches need it), so not in the manifest.
    static let isochrone = "/xunfang.grid_model.v1.GridModel/Isochrone"
    /// Where verified tips are forwarded; optional (only forwarding needs it), so not in the manifest.
    static let intake = "/xunfang.dispatch.v1.Dispatch/Intake"
    /// The durable consumer that takes Situation's warnings, so none is missed while down.
    static let warningConsumer = "community-alerts"

    public static let manifest = PluginManifest(
        name: "community", version: "0.2.0", publishes: [alertTopic, complianceTopic], subscribes: [warningTopic], serves: methods, calls: [listAreas, locate],
        topicTypes: [alertTopic: "xunfang.community.v1.Alert", complianceTopic: "xunfang.community.v1.ComplianceException"])

    public static var descriptorSet: Data { CommunityPolicingDescriptors.fileDescriptorSet }

    public static var commands: [PluginCommand] {
        [PluginCommand("import", "import a teams or members ledger (CSV, any size) over the bus") { await LedgerCommands.importLedger($0) },
         PluginCommand("export", "export a ledger as CSV, without names and phones") { await LedgerCommands.exportLedger($0) },
         PluginCommand("audit", "print who read which member's contact, when and why") { await LedgerCommands.audit($0) },
         PluginCommand("records", "write a team's record book and its signers' keys for verify") { await LedgerCommands.records($0) },
         PluginCommand("verify", "check a record book: the chain and its signed pages, naming the first bad entry") { VerifyCommand.run($0) },
         PluginCommand("compliance", "the duty rules' weekly or ten-day report: text, JSON or HTML") { await DutyCommands.compliance($0) },
         PluginCommand("sms-gateway", "a stand-in SMS gateway for trials: logs each text once, by its idempotency key") { await SmsGatewaySimulator.run($0) },
         PluginCommand("bench", "alert matching and fan-out speed (xunfang bench community)") { CommunityBenchmark.run($0) }]
    }

    let registry: Registry
    let alerting: Alerting
    let books: RecordBooks
    var duty: Duty
    let watches: Watches
    var tips: Tips
    let notifier: any AlertNotifier
    let logger: Logger
    /// Seed an empty store with the demo county's teams (`COMMUNITY_DEMO_LEDGER`).
    let demoLedger: Bool
    private let wake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let deliveries = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    /// Hot grids' outlines from GridModel, by grid id, for the CAP areas.
    private let outlines = Outlines()

    final class Outlines: Sendable {
        let byGrid = Mutex<[String: Cap.Area]>([:])
    }

    /// Settings:
    /// - `COMMUNITY_KEY_FILE` (default `<data>/community.key`, created 0600): the keys that
    ///   seal members' names and phones at rest; rotate with `RotateKey`.
    /// - `COMMUNITY_OUTBOX_DIR` (default `<data>/alerts`): where the CAP documents of due
    ///   alerts are written, `<alert id>.xml`, for the county's sender to pick up.
    /// - `COMMUNITY_ALERTS_PER_DAY` (default 3, 1 to 50): at most this many alerts a member
    ///   in any 24 hours.
    /// - `COMMUNITY_QUIET_HOURS` (default `22:00-07:00`, or `off`): alerts wait for their
    ///   end unless the member is working then.
    /// - `COMMUNITY_DEMO_LEDGER` (`on` or `off`, default off): an empty store takes the demo
    ///   county's teams and members, built on GridModel's areas and roads.
    /// - `COMMUNITY_TRUSTED_RELIABILITY` (default 0.9, 0.5 to 1): a member at least this
    ///   reliable is a trusted reporter, whose tips are verified on arrival.
    /// - `COMMUNITY_SMS_GATEWAY` (`http://host:port/path`, default none): alerts also go out
    ///   as texts through this gateway; `COMMUNITY_SMS_TOKEN_FILE` (0600) holds its bearer token.
    /// - `COMMUNITY_DUTY_GRACE_HOURS` (default 24, 0 to 168): a week's or ten days' duty
    ///   exceptions are published this long after it ends, once late records are in.
    /// - `COMMUNITY_TIP_BLUR_METRES` (default 500, 100 to 5,000): the public view of tips
    ///   shows the centre of a cell this size instead of the place.
    public init(context: PluginContext) throws {
        let keyFile = context.settings["COMMUNITY_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(context.dataDirectory)/community.key"
        var policy = AlertPolicy()
        policy.perDay = Int(try context.number("COMMUNITY_ALERTS_PER_DAY", in: 1...50, default: 3, unit: "alerts"))
        if let quiet = context.settings["COMMUNITY_QUIET_HOURS"], !quiet.isEmpty { policy.quietHours = try AlertPolicy.quietHours(quiet) }
        let outbox = context.settings["COMMUNITY_OUTBOX_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(context.dataDirectory)/alerts"
        let demoLedger = try context.isOn("COMMUNITY_DEMO_LEDGER", default: false)
        var sms: SmsGatewaySetting?
        if let gateway = context.settings["COMMUNITY_SMS_GATEWAY"], !gateway.isEmpty {
            sms = SmsGatewaySetting(endpoint: try SmsGatewayEndpoint(gateway), token: try context.secret(fromFileIn: "COMMUNITY_SMS_TOKEN_FILE"))
        }
        try self.init(dataDirectory: context.dataDirectory, keyFile: keyFile, policy: policy, notifier: try OutboxDirectoryNotifier(directory: outbox),
                      sms: sms, logger: context.logger, demoLedger: demoLedger, now: context.clock.now)
        tips.trustedReliability = try context.number("COMMUNITY_TRUSTED_RELIABILITY", in: 0.5...1, default: 0.9, unit: "")
        tips.blurMetres = try context.number("COMMUNITY_TIP_BLUR_METRES", in: 100...5_000, default: 500, unit: "metres")
        duty.grace = Int64(try context.number("COMMUNITY_DUTY_GRACE_HOURS", in: 0...168, default: 24, unit: "hours") * 3_600_000)
    }

    /// For tests: a directory, key file, policy, notifier, SMS gateway and clock of their own.
    public init(dataDirectory: String, keyFile: String, notifier: (any AlertNotifier)? = nil, sms: SmsGatewaySetting? = nil, logger: Logger = Logger(label: "community"),
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) throws {
        try self.init(dataDirectory: dataDirectory, keyFile: keyFile, policy: AlertPolicy(),
                      notifier: try notifier ?? OutboxDirectoryNotifier(directory: "\(dataDirectory)/alerts"), sms: sms, logger: logger, now: now)
    }

    /// Texts go out through this gateway too (`COMMUNITY_SMS_GATEWAY`, `COMMUNITY_SMS_TOKEN_FILE`).
    public struct SmsGatewaySetting: Sendable {
        public let endpoint: SmsGatewayEndpoint
        public let token: String?

        public init(endpoint: SmsGatewayEndpoint, token: String?) {
            self.endpoint = endpoint
            self.token = token
        }
    }

    init(dataDirectory: String, keyFile: String, policy: AlertPolicy, notifier: any AlertNotifier, sms: SmsGatewaySetting? = nil, logger: Logger, demoLedger: Bool = false,
         now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) throws {
        self.demoLedger = demoLedger
        let keys: SealingKeys
        do {
            keys = try SealingKeys(path: keyFile)
        } catch {
            throw SettingError("COMMUNITY_KEY_FILE: \(error)")
        }
        let store = try CommunityStore(path: "\(dataDirectory)/community.sqlite")
        registry = Registry(store: store, keys: keys, now: now)
        books = RecordBooks(store: store)
        duty = Duty(store: store, now: now)
        tips = Tips(store: store, now: now)
        alerting = Alerting(store: store, policy: policy, sender: "xunfang.community", now: now)
        watches = Watches(store: store, alerting: alerting)
        if let sms {
            let registry = self.registry
            self.notifier = NotifierChain(notifiers: [notifier, SmsGatewayNotifier(endpoint: sms.endpoint, token: sms.token) { alerts in
                try registry.phones(for: alerts, caller: "community (SMS gateway)")
            }])
        } else {
            self.notifier = notifier
        }
        self.logger = logger
    }

    public func register(on bus: BusClient) {
        let registry = self.registry, alerting = self.alerting, books = self.books
        // A ledger may be megabytes of CSV: its own bound, parsed off the connection's threads.
        bus.serve(Self.service + "ImportLedger", bounds: MessageBounds(maxFieldBytes: Ledger.maxCSVBytes)) {
            (request: Xunfang_Community_V1_ImportLedgerRequest, call) in
            let response = try await onOwnThread { try registry.importLedger(request, caller: call.caller) }
            if response.imported > 0 { alerting.ledgerChanged() }
            return response
        }
        bus.serve(Self.service + "ExportLedger") { (request: Xunfang_Community_V1_ExportLedgerRequest, _) in
            try await onOwnThread { try registry.exportLedger(request) }
        }
        bus.serve(Self.service + "ListTeams") { (request: Xunfang_Community_V1_ListTeamsRequest, _) in try registry.teams(request) }
        bus.serve(Self.service + "ListMembers") { (request: Xunfang_Community_V1_ListMembersRequest, _) in
            try await onOwnThread { try registry.members(request) }
        }
        bus.serve(Self.service + "ReadContact") { (request: Xunfang_Community_V1_ReadContactRequest, call) in
            try registry.readContact(request, caller: call.caller)
        }
        bus.serve(Self.service + "Audit") { (request: Xunfang_Community_V1_AuditRequest, _) in try registry.audit(request) }
        bus.serve(Self.service + "RotateKey") { (_: Xunfang_Community_V1_RotateKeyRequest, call) in
            try await onOwnThread { try registry.rotateKey(caller: call.caller) }
        }
        bus.serve(Self.service + "SetMemberStatus") { (request: Xunfang_Community_V1_MemberStatus, _) in try alerting.setStatus(request) }
        bus.serve(Self.service + "IssueAlerts") { [self] (request: Xunfang_Community_V1_IssueAlertsRequest, _) in
            try await issue(request.warning, bus: bus)
        }
        bus.serve(Self.service + "RegisterSigner") { (request: Xunfang_Community_V1_Signer, _) in try books.register(request) }
        bus.serve(Self.service + "AppendRecord") { (request: Xunfang_Community_V1_Record, _) in try books.append(request) }
        bus.serve(Self.service + "SignPage") { (request: Xunfang_Community_V1_RecordPage, _) in
            try await onOwnThread { try books.sign(request) }
        }
        bus.serve(Self.service + "ListRecords") { (request: Xunfang_Community_V1_ListRecordsRequest, _) in
            try await onOwnThread { try books.list(request) }
        }
        bus.serve(Self.service + "ListAlerts") { (request: Xunfang_Community_V1_ListAlertsRequest, _) in try alerting.list(request) }
        let tips = self.tips
        bus.serve(Self.service + "SubmitTip") { (request: Xunfang_Community_V1_SubmitTipRequest, _) in try tips.submit(request) }
        bus.serve(Self.service + "UpdateTip") { (request: Xunfang_Community_V1_UpdateTipRequest, _) in
            try await tips.update(request) { tip, typeCode in try await Self.forward(tip, typeCode: typeCode, bus: bus) }
        }
        bus.serve(Self.service + "GetTip") { (request: Xunfang_Community_V1_GetTipRequest, call) in try tips.get(request, caller: call.caller) }
        bus.serve(Self.service + "ListTips") { (request: Xunfang_Community_V1_ListTipsRequest, call) in try tips.list(request, caller: call.caller) }
        bus.serve(Self.service + "PublicTips") { (request: Xunfang_Community_V1_PublicTipsRequest, _) in try tips.publicView(request) }
        let watches = self.watches
        bus.serve(Self.service + "RequestWatch") { [self] (request: Xunfang_Community_V1_WatchRequest, _) in try await requestWatch(request, bus: bus) }
        bus.serve(Self.service + "CloseWatch") { (request: Xunfang_Community_V1_CloseWatchRequest, _) in try watches.close(request) }
        bus.serve(Self.service + "ListWatches") { (request: Xunfang_Community_V1_ListWatchesRequest, _) in try watches.list(request) }
        let duty = self.duty
        bus.serve(Self.service + "Compliance") { (request: Xunfang_Community_V1_ComplianceRequest, _) in
            try await onOwnThread { try duty.compliance(request) }
        }
    }

    /// A verified tip as a Dispatch incident (source tip, external id the tip's id, so a
    /// retry gets the same incident); answers the incident's id.
    static func forward(_ tip: Xunfang_Community_V1_Tip, typeCode: String, bus: BusClient) async throws -> String {
        var intake = Xunfang_Dispatch_V1_IntakeRequest()
        intake.typeCode = typeCode
        intake.source = .tip
        intake.location.longitude = tip.longitude
        intake.location.latitude = tip.latitude
        intake.report = "群众线索 \(tip.id): \(tip.text)"
        intake.externalID = tip.id
        return try await bus.call(Self.intake, intake, as: Xunfang_Dispatch_V1_IntakeResponse.self).incident.id
    }

    /// Opens a watch on the roads within its drive of the incident (GridModel's isochrone),
    /// off the connection's threads, then wakes the publisher and the notifier. An incident
    /// with a watch gets it back without asking GridModel again.
    func requestWatch(_ request: Xunfang_Community_V1_WatchRequest, bus: BusClient) async throws -> Xunfang_Community_V1_WatchResponse {
        let (hours, minutes) = try Watches.check(request)
        var segments: [String] = [], area: [GeoPoint] = []
        if try watches.store.watch(incident: request.incidentID) == nil {
            var reach = Xunfang_GridModel_V1_IsochroneRequest()
            reach.origin.longitude = request.longitude
            reach.origin.latitude = request.latitude
            reach.minutes = Double(minutes)
            reach.mode = .car
            reach.withNetwork = true
            let answer: Xunfang_GridModel_V1_IsochroneResponse
            do {
                answer = try await bus.call(Self.isochrone, reach, as: Xunfang_GridModel_V1_IsochroneResponse.self, timeout: .seconds(15))
            } catch {
                throw BusClientError(.unavailable, "GridModel did not say which roads are within \(minutes) minutes (\(error)); no watch opened")
            }
            segments = Watches.segments(answer.network.map { (from: $0.fromNode, to: $0.toNode) })
            area = answer.polygon.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) }
        }
        let watches = self.watches
        let response = try await onOwnThread { [segments, area] in try watches.open(request, hours: hours, minutes: minutes, segments: segments, area: area) }
        if !response.alerts.alreadyHandled && !response.alerts.alerts.isEmpty {
            wake.continuation.yield()
            deliveries.continuation.yield()
        }
        return response
    }

    /// Issues a warning's alerts off the connection's threads, then wakes the publisher
    /// and the notifier.
    func issue(_ warning: Xunfang_Situation_V1_Warning, bus: BusClient) async throws -> Xunfang_Community_V1_IssueAlertsResponse {
        let areas = await self.areas(warning, bus: bus)
        let alerting = self.alerting
        let response = try await onOwnThread { try alerting.issue(warning, areas: areas) }
        if !response.alreadyHandled && !response.alerts.isEmpty {
            wake.continuation.yield()
            deliveries.continuation.yield()
        }
        return response
    }

    /// The warning's hot grids as CAP areas: outlines from GridModel (asked again when one
    /// is missing), a grid's name alone when GridModel does not answer.
    func areas(_ warning: Xunfang_Situation_V1_Warning, bus: BusClient) async -> [Cap.Area] {
        if warning.hotGrids.contains(where: { id in outlines.byGrid.withLock { $0[id] == nil } }) {
            var request = Xunfang_GridModel_V1_ListAreasRequest()
            request.kind = .grid
            request.withOutlines = true
            if let answer = try? await bus.call(Self.listAreas, request, as: Xunfang_GridModel_V1_ListAreasResponse.self, timeout: .seconds(5)) {
                let known = answer.areas.map { area in
                    (area.id, Cap.Area(description: area.name, outline: area.outline.first?.points.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) } ?? []))
                }
                outlines.byGrid.withLock { $0 = Dictionary(known, uniquingKeysWith: { first, _ in first }) }
            }
        }
        let names = Dictionary(zip(warning.hotGrids, warning.hotGridNames), uniquingKeysWith: { first, _ in first })
        let known = outlines.byGrid.withLock { $0 }
        let areas = warning.hotGrids.map { id in known[id] ?? Cap.Area(description: names[id].flatMap { $0.isEmpty ? nil : $0 } ?? id, outline: []) }
        let station = warning.stationName.isEmpty ? warning.stationID : warning.stationName
        return areas.isEmpty ? [Cap.Area(description: "\(station)辖区", outline: [])] : areas
    }

    /// Takes every warning (durably: none is lost while the plugin is down), publishes the
    /// alerts' messages and hands due alerts to the notifier, until shut down.
    public func run(on bus: BusClient) async throws {
        if demoLedger { await seedDemoLedger(bus) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await Outbox.drain(alerting.store.queue, bus: { bus }, wake: wake.stream, logger: logger)
            }
            group.addTask { [self] in await deliver() }
            group.addTask { [self] in
                // A week or ten days ends with no event to say so: look each minute.
                while !Task.isCancelled {
                    do {
                        let duty = self.duty
                        let published = try await onOwnThread { try duty.publishClosedPeriods() }
                        if !published.isEmpty {
                            logger.info("duty compliance published", metadata: ["xunfang.periods": "\(published)"])
                            wake.continuation.yield()
                        }
                    } catch {
                        logger.warning("duty compliance not published; trying again", metadata: ["xunfang.error": "\(error)"])
                    }
                    try? await Task.sleep(for: .seconds(60))
                }
            }
            group.addTask { [self] in
                // Alerts held past quiet hours fall due with no event to say so.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    deliveries.continuation.yield()
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    do {
                        try await bus.consume(Self.warningTopic, as: Xunfang_Situation_V1_Warning.self, durable: Self.warningConsumer) { warning, _ in
                            do {
                                let response = try await issue(warning, bus: bus)
                                logger.info("warning handled", metadata: ["xunfang.source": "\(Alerting.source(of: warning))",
                                                                          "xunfang.alerts": "\(response.alerts.count)", "xunfang.note": "\(response.note)"])
                            } catch let error as BusClientError where error.code == .invalidArgument {
                                logger.error("a warning that cannot be alerted on; acknowledged", metadata: ["xunfang.error": "\(error)"])
                            }
                        }
                    } catch {
                        logger.warning("the warning subscription ended; subscribing again", metadata: ["xunfang.error": "\(error)"])
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Hands due alerts to the notifier (`Alerting.deliverDue`), then waits for more.
    func deliver() async {
        var iterator = deliveries.stream.makeAsyncIterator()
        while !Task.isCancelled {
            do {
                if try await alerting.deliverDue(to: notifier) == 0 { _ = await iterator.next() }
            } catch {
                logger.warning("alert delivery failed; retrying", metadata: ["xunfang.error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Fills an empty store with the demo county's teams, once GridModel answers.
    func seedDemoLedger(_ bus: BusClient) async {
        guard (try? registry.store.teamIDs().isEmpty) == true else { return }
        var pause = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                var request = Xunfang_GridModel_V1_ListAreasRequest()
                request.withOutlines = true
                let areas = try await bus.call(Self.listAreas, request, as: Xunfang_GridModel_V1_ListAreasResponse.self).areas
                let demo = DemoLedger(stations: areas.filter { $0.kind == .station }.map { DemoLedger.Station(id: $0.id, name: $0.name) },
                                      grids: areas.filter { $0.kind == .grid }.map { area in
                                          DemoLedger.Grid(id: area.id, name: area.name, stationID: area.parentID,
                                                          outline: area.outline.first?.points.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) } ?? [])
                                      })
                let ledger = await demo.csv(seed: 15) { point in
                    var locate = Xunfang_GridModel_V1_LocateRequest()
                    locate.position.longitude = point.longitude
                    locate.position.latitude = point.latitude
                    let answer = try? await bus.call(Self.locate, locate, as: Xunfang_GridModel_V1_LocateResponse.self)
                    return answer.flatMap { $0.roadSegmentMetres < 500 && !$0.roadSegmentID.isEmpty ? $0.roadSegmentID : nil }
                }
                let duty = demo.duty(now: alerting.now(), seed: 16)
                let registry = self.registry
                let imported = try await onOwnThread { () -> [UInt32] in
                    // Members last: a store with members has the whole demo ledger.
                    try [(Xunfang_Community_V1_LedgerKind.dutyPosts, duty.posts), (.dutyRecords, duty.records), (.teams, ledger.teams), (.members, ledger.members)]
                        .map { kind, csv in
                            var request = Xunfang_Community_V1_ImportLedgerRequest()
                            request.kind = kind
                            request.csv = csv
                            let answer = try registry.importLedger(request, caller: "community (demo ledger)")
                            guard answer.errors.isEmpty else { throw BusClientError(.internal, "the demo \(kind) ledger is refused: \(answer.errors.prefix(3).map(\.message))") }
                            return answer.imported
                        }
                }
                alerting.ledgerChanged()
                logger.info("demo ledger seeded from GridModel's areas", metadata: ["xunfang.duty_posts": "\(imported[0])", "xunfang.duty_records": "\(imported[1])",
                                                                                   "xunfang.teams": "\(imported[2])", "xunfang.members": "\(imported[3])"])
                return
            } catch {
                logger.info("waiting for GridModel to seed the demo ledger", metadata: ["xunfang.error": "\(error)"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(5))
            }
        }
    }
}
