public import XunfangPluginKit
public import Foundation
import CommunityPolicingContract

/// CommunityPolicing (群防群治): volunteer teams and information officers, their base
/// ledgers, and their contact details as personal data. See
/// Plugins/CommunityPolicing/README.md.
public struct CommunityPlugin: Plugin {
    static let service = "/xunfang.community.v1.Community/"
    static let methods = ["ImportLedger", "ExportLedger", "ListTeams", "ListMembers", "ReadContact", "Audit", "RotateKey"].map { service + $0 }

    public static let manifest = PluginManifest(name: "community", version: "0.1.0", publishes: [], serves: methods)

    public static var descriptorSet: Data { CommunityPolicingDescriptors.fileDescriptorSet }

    let registry: Registry

    /// Settings: `COMMUNITY_KEY_FILE` (default `<data>/community.key`, created 0600): the
    /// keys that seal members' names and phones at rest; rotate with `RotateKey`.
    public init(context: PluginContext) throws {
        let keyFile = context.settings["COMMUNITY_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(context.dataDirectory)/community.key"
        try self.init(dataDirectory: context.dataDirectory, keyFile: keyFile)
    }

    /// For tests: a directory, a key file and a clock of their own.
    public init(dataDirectory: String, keyFile: String, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) throws {
        let keys: SealingKeys
        do {
            keys = try SealingKeys(path: keyFile)
        } catch {
            throw SettingError("COMMUNITY_KEY_FILE: \(error)")
        }
        registry = Registry(store: try CommunityStore(path: "\(dataDirectory)/community.sqlite"), keys: keys, now: now)
    }

    public func register(on bus: BusClient) {
        let registry = self.registry
        // A ledger may be megabytes of CSV: its own bound, parsed off the connection's threads.
        bus.serve(Self.service + "ImportLedger", bounds: MessageBounds(maxFieldBytes: Ledger.maxCSVBytes)) {
            (request: Xunfang_Community_V1_ImportLedgerRequest, call) in
            try await onOwnThread { try registry.importLedger(request, caller: call.caller) }
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
    }

    /// Serves until shut down: nothing to watch yet.
    public func run(on bus: BusClient) async throws {
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3_600)) }
    }
}
