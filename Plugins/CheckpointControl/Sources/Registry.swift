import Foundation
import Synchronization
import XunfangGeo
import XunfangPluginKit
import CheckpointControlContract

typealias CheckpointStatus = Xunfang_Checkpoint_V1_CheckpointStatus
typealias CheckpointRecord = Xunfang_Checkpoint_V1_CheckpointRecord

/// Where a checkpoint's status may go next (the contract's comment on `CheckpointStatus`).
enum StatusMachine {
    static let next: [CheckpointStatus: [CheckpointStatus]] = [
        .open: [.alert, .sealed, .unstaffed],
        .alert: [.sealed, .standDown, .unstaffed],
        .sealed: [.standDown],
        .standDown: [.open, .alert, .unstaffed],
        .unstaffed: [.open],
    ]

    static func name(_ status: CheckpointStatus) -> String {
        switch status {
        case .open: "open"
        case .alert: "alert"
        case .sealed: "sealed"
        case .standDown: "stand-down"
        case .unstaffed: "unstaffed"
        case .unspecified: "unspecified"
        case .UNRECOGNIZED(let value): "status \(value)"
        }
    }

    /// Nil when the change is allowed, else why not.
    static func refusal(from: CheckpointStatus, to: CheckpointStatus) -> String? {
        let allowed = next[from] ?? []
        guard !allowed.contains(to) else { return nil }
        return "\(name(from)) cannot go to \(name(to)); from \(name(from)) it may go to \(allowed.map(name).joined(separator: ", "))"
    }
}

/// The checkpoint registry: registration snapped to the road graph, the status machine
/// with every change kept and announced, aggregated check reports, and the board. Every
/// read-modify-write runs under one lock; the store writes each change with its
/// announcement in one transaction, and `wake` tells the outbox publisher.
final class Registry: Sendable {
    let store: CheckpointStore
    let roads: RingService
    let now: @Sendable () -> Int64
    let wake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let lock = Mutex(())
    static let historyLimit = 100

    init(store: CheckpointStore, roads: RingService, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) {
        self.store = store
        self.roads = roads
        self.now = now
    }

    func put(_ request: Xunfang_Checkpoint_V1_PutRequest, caller: String) throws -> Xunfang_Checkpoint_V1_PutResponse {
        var record = request.checkpoint
        try Self.check(record)
        try Self.checkOfficer(request.officer)
        let node = try roads.node(record.node, record.longitude, record.latitude, what: "checkpoint \(record.id)")
        record.node = roads.roads.nodeIDs[node]
        record.longitude = roads.roads.coordinates[node].longitude
        record.latitude = roads.roads.coordinates[node].latitude
        record.roads = roads.roadNames(at: node)
        return try lock.withLock { _ in
            let known = try store.checkpoint(record.id)
            if let known {
                record.status = known.status
                record.statusSince = known.statusSince
                record.statusBy = known.statusBy
                record.staffOnPost = known.staffOnPost
            } else {
                record.status = .open
                record.statusSince = now()
                record.statusBy = Self.who(caller, request.officer)
                record.staffOnPost = 0
            }
            try store.save(.init(checkpoints: [record]))
            return .with {
                $0.checkpoint = record
                $0.created = known == nil
            }
        }
    }

    func list(_ request: Xunfang_Checkpoint_V1_ListRequest) throws -> Xunfang_Checkpoint_V1_ListResponse {
        let all = try store.checkpoints()
        return .with {
            $0.checkpoints = all.filter {
                (request.kind == .unspecified || $0.kind == request.kind) && (request.status == .unspecified || $0.status == request.status)
            }
        }
    }

    func get(_ request: Xunfang_Checkpoint_V1_GetRequest) throws -> Xunfang_Checkpoint_V1_GetResponse {
        let record = try find(request.id)
        let history = try store.history(of: record.id, limit: Self.historyLimit)
        return .with {
            $0.checkpoint = record
            $0.history = history
        }
    }

    func setStatus(_ request: Xunfang_Checkpoint_V1_SetStatusRequest, caller: String) throws -> Xunfang_Checkpoint_V1_StatusChange {
        try Self.checkOfficer(request.officer)
        guard request.reason.utf8.count <= 256 else { throw BusClientError(.invalidArgument, "reason is longer than 256 bytes") }
        guard StatusMachine.next[request.status] != nil else { throw BusClientError(.invalidArgument, "status must be one of open, alert, sealed, stand-down, unstaffed") }
        return try transact { changes in
            var record = try find(request.id)
            if let refusal = StatusMachine.refusal(from: record.status, to: request.status) {
                throw BusClientError(.failedPrecondition, "checkpoint \(record.id): \(refusal)")
            }
            return try change(&record, to: request.status, by: Self.who(caller, request.officer), reason: request.reason, into: &changes)
        }
    }

    /// Runs `body` under the registry's lock and writes what it collected (with its
    /// announcements) in one transaction; the seal desk changes plans, activations and
    /// statuses together this way.
    func transact<T>(_ body: (inout CheckpointStore.Changes) throws -> T) throws -> T {
        let result = try lock.withLock { _ in
            var changes = CheckpointStore.Changes()
            let result = try body(&changes)
            try store.save(changes)
            return result
        }
        wake.continuation.yield()
        return result
    }

    /// A status change the machine allows, kept with who and when, and announced.
    func change(_ record: inout CheckpointRecord, to status: CheckpointStatus, by who: String, reason: String,
                into changes: inout CheckpointStore.Changes) throws -> Xunfang_Checkpoint_V1_StatusChange {
        let change = Xunfang_Checkpoint_V1_StatusChange.with {
            $0.checkpoint = record.id
            $0.from = record.status
            $0.to = status
            $0.at = now()
            $0.by = who
            $0.reason = reason
        }
        record.status = status
        record.statusSince = change.at
        record.statusBy = who
        changes.checkpoints.append(record)
        changes.statusChanges.append(change)
        changes.outbox.append(("checkpoint.status", try change.serializedData(), "status-\(record.id)-\(change.at)-\(status.rawValue)"))
        return change
    }

    func report(_ request: Xunfang_Checkpoint_V1_CheckReport, caller: String) throws -> Xunfang_Checkpoint_V1_ReportResponse {
        var report = request
        try checkReport(report)
        report.reportedBy = Self.who(caller, request.reportedBy)
        let stored = try lock.withLock { _ in
            var record = try find(report.checkpoint)
            record.staffOnPost = report.staffOnPost
            return try store.save(.init(checkpoints: [record], report: report,
                                        outbox: [("checkpoint.report", try report.serializedData(), "report-\(report.checkpoint)-\(report.from)-\(report.to)")]))
        }
        if stored { wake.continuation.yield() }
        return .with { $0.duplicate = !stored }
    }

    func board() throws -> Xunfang_Checkpoint_V1_BoardResponse {
        let day = ChinaTime.dayNumber(now())
        let since = ChinaTime.start(ofDay: day)
        var totals: [String: (vehicles: Int32, persons: Int32, hits: Int32, last: Int64)] = [:]
        for report in try store.reports(endingFrom: since) {
            var total = totals[report.checkpoint] ?? (0, 0, 0, 0)
            total.vehicles += report.vehiclesChecked
            total.persons += report.personsChecked
            total.hits += report.hits
            total.last = max(total.last, report.to)
            totals[report.checkpoint] = total
        }
        let checkpoints = try store.checkpoints()
        return .with { board in
            board.day = ChinaTime.label(ofDay: day)
            board.rows = checkpoints.map { checkpoint in
                let total = totals[checkpoint.id] ?? (0, 0, 0, 0)
                return .with {
                    $0.checkpoint = checkpoint
                    $0.vehiclesToday = total.vehicles
                    $0.personsToday = total.persons
                    $0.hitsToday = total.hits
                    $0.lastReportAt = total.last
                }
            }
            for checkpoint in checkpoints { board.byStatus[Int32(checkpoint.status.rawValue), default: 0] += 1 }
        }
    }

    func find(_ id: String) throws -> CheckpointRecord {
        guard let record = try store.checkpoint(id) else {
            throw BusClientError(.notFound, "no checkpoint \(id.prefix(64))")
        }
        return record
    }

    static func who(_ caller: String, _ officer: String) -> String { officer.isEmpty ? caller : "\(caller) / \(officer)" }

    /// Ids of checkpoints, plans and positions: they go into topics and file names.
    static func checkID(_ id: String, what: String) throws {
        let characters = id.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
        guard (1...64).contains(id.utf8.count), characters else {
            throw BusClientError(.invalidArgument, "\(what) \"\(id.prefix(64))\" must be 1 to 64 bytes of letters, digits, - and _")
        }
    }

    static func checkOfficer(_ officer: String) throws {
        guard officer.utf8.count <= 64 else { throw BusClientError(.invalidArgument, "officer is longer than 64 bytes") }
    }

    static func check(_ record: CheckpointRecord) throws {
        try checkID(record.id, what: "checkpoint id")
        guard (1...128).contains(record.name.utf8.count) else { throw BusClientError(.invalidArgument, "checkpoint \(record.id): name must be 1 to 128 bytes") }
        switch record.kind {
        case .publicSecurity, .cityExit, .borderSmart, .mobile: break
        default: throw BusClientError(.invalidArgument, "checkpoint \(record.id): kind must be public security, city exit, border smart or mobile")
        }
        guard (1...16).contains(record.lanes) else { throw BusClientError(.invalidArgument, "checkpoint \(record.id): lanes must be 1 to 16") }
        guard (1...10_000).contains(record.capacityPerHour) else {
            throw BusClientError(.invalidArgument, "checkpoint \(record.id): capacity_per_hour must be 1 to 10,000")
        }
        guard (0...100).contains(record.staffDay), (0...100).contains(record.staffNight) else {
            throw BusClientError(.invalidArgument, "checkpoint \(record.id): staff per shift must be 0 to 100")
        }
    }

    func checkReport(_ report: Xunfang_Checkpoint_V1_CheckReport) throws {
        let name = "report for \(report.checkpoint.prefix(64))"
        guard report.from < report.to, report.to - report.from <= 24 * 3_600_000 else {
            throw BusClientError(.invalidArgument, "\(name): the interval must end after it starts and last at most 24 h")
        }
        guard report.to <= now() + 60_000 else { throw BusClientError(.invalidArgument, "\(name): the interval ends in the future") }
        guard (0...100).contains(report.staffOnPost) else { throw BusClientError(.invalidArgument, "\(name): staff_on_post must be 0 to 100") }
        guard (0...100_000).contains(report.vehiclesChecked), (0...100_000).contains(report.personsChecked) else {
            throw BusClientError(.invalidArgument, "\(name): counts must be 0 to 100,000")
        }
        guard report.hits >= 0, report.hits <= report.vehiclesChecked + report.personsChecked else {
            throw BusClientError(.invalidArgument, "\(name): hits must be 0 to the vehicles and persons checked")
        }
        guard report.reportedBy.utf8.count <= 64 else { throw BusClientError(.invalidArgument, "\(name): reported_by is longer than 64 bytes") }
    }
}
