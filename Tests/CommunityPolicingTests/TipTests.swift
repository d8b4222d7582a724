@testable import CommunityPolicingPlugin
import CommunityPolicingContract
import DispatchContract
import Foundation
import Synchronization
import Testing
import XunfangGeo
import XunfangPluginKit

@Suite("Tips")
struct TipTests {
    typealias Status = Xunfang_Community_V1_TipStatus

    @Test("the state machine allows exactly its moves, each named when refused")
    func flow() {
        let all: [Status] = [.submitted, .verifying, .verified, .forwarded, .dismissed]
        let allowed: Set<[Status]> = [[.submitted, .verifying], [.submitted, .dismissed], [.verifying, .verified], [.verifying, .dismissed],
                                      [.verified, .forwarded], [.verified, .dismissed]]
        for from in all {
            for to in all + [.unspecified] {
                let ok = (try? TipFlow.check(from: from, to: to)) != nil
                #expect(ok == allowed.contains([from, to]), "\(from) -> \(to)")
            }
        }
        #expect(throws: BusClientError.self) { try TipFlow.check(from: .forwarded, to: .dismissed) }
        do {
            try TipFlow.check(from: .submitted, to: .forwarded)
        } catch {
            #expect(error.message == "a submitted tip cannot become forwarded; it may become verifying or dismissed")
        }
    }

    @Test("the blur gives one answer per cell, within half a cell's diagonal of the place")
    func blur() {
        let place = (longitude: 104.2871, latitude: 30.9912)
        let cell = Tips.blur(longitude: place.longitude, latitude: place.latitude, metres: 500)
        let near = Tips.blur(longitude: cell.longitude + 0.0001, latitude: cell.latitude - 0.0001, metres: 500)
        #expect(near.longitude == cell.longitude && near.latitude == cell.latitude)
        let metres = Haversine.metres(GeoPoint(longitude: place.longitude, latitude: place.latitude), GeoPoint(longitude: cell.longitude, latitude: cell.latitude))
        #expect(metres <= 500 * 0.7072 && metres > 0)
        let far = Tips.blur(longitude: place.longitude + 0.01, latitude: place.latitude, metres: 500)
        #expect(far.longitude != cell.longitude)
    }

    /// Dispatch's Intake as the bus sees it: a plugin named dispatch serving it, recording
    /// what it was asked and answering one incident per external id, as Dispatch does.
    final class IntakeDesk: Sendable {
        let asked = Mutex<[Xunfang_Dispatch_V1_IntakeRequest]>([])

        func client(_ stack: CommunityStack) async throws -> BusClient {
            let client = BusClient(transport: .inProcess(stack.transport),
                                   manifest: PluginManifest(name: "dispatch", version: "1.0.0", serves: [CommunityPlugin.intake]),
                                   credential: CommunityStack.secret, logger: CommunityStack.quiet, callTimeout: .seconds(120))
            client.serve(CommunityPlugin.intake) { [self] (request: Xunfang_Dispatch_V1_IntakeRequest, _) in
                let number = asked.withLock { asked in
                    let earlier = asked.firstIndex { $0.externalID == request.externalID }
                    if earlier == nil { asked.append(request) }
                    return (earlier ?? asked.count - 1) + 1
                }
                var response = Xunfang_Dispatch_V1_IntakeResponse()
                response.incident.id = String(format: "INC-%06d", number)
                return response
            }
            try await client.start()
            return client
        }
    }

    @Test("a tip goes submitted, verifying, verified, forwarded, with who and why; a trusted reporter's is verified at once; forwarding links both ways and changes nothing when Dispatch is away")
    func lifecycle() async throws {
        let stack = try await CommunityStack.start()
        let plugin = try await stack.plugin()
        let desk = try await stack.client("desk")
        let service = CommunityStack.service
        try await stack.importLedgers(by: desk)
        func submit(_ member: String, text: String = "两名男子在撬电动车锁", longitude: Double = 104.2871) async throws -> Xunfang_Community_V1_Tip {
            var request = Xunfang_Community_V1_SubmitTipRequest()
            request.memberID = member
            request.text = text
            (request.longitude, request.latitude) = (longitude, 30.9912)
            return try await desk.call(service + "SubmitTip", request, as: Xunfang_Community_V1_TipResponse.self).tip
        }
        func update(_ id: String, _ status: Status, typeCode: String = "") async throws -> Xunfang_Community_V1_Tip {
            var request = Xunfang_Community_V1_UpdateTipRequest()
            request.tipID = id
            request.status = status
            request.by = "王芳"
            request.why = "核实: \(TipFlow.name(status))"
            request.typeCode = typeCode
            return try await desk.call(service + "UpdateTip", request, as: Xunfang_Community_V1_TipResponse.self).tip
        }

        // M-2 has the default reliability 0.5; M-1 is 0.9, trusted.
        let tip = try await submit("M-2")
        #expect(tip.id == "TIP-000001" && tip.status == .submitted && tip.history.map(\.by) == ["M-2"])
        let trusted = try await submit("M-1")
        #expect(trusted.status == .verified && trusted.history.map(\.status) == [.submitted, .verified])
        #expect(trusted.history.last?.why.contains("trusted") == true)

        await #expect(throws: BusClientError.self) { try await update(tip.id, .verified) }
        #expect(try await update(tip.id, .verifying).status == .verifying)
        #expect(try await update(tip.id, .verified).status == .verified)
        // No case type yet: refused, naming the field.
        await #expect(throws: BusClientError.self) { try await update(tip.id, .forwarded) }
        // Dispatch not on the bus: the tip stays verified, with no incident.
        await #expect(throws: BusClientError.self) { try await update(tip.id, .forwarded, typeCode: "theft") }
        var get = Xunfang_Community_V1_GetTipRequest()
        get.tipID = tip.id
        let unchanged = try await desk.call(service + "GetTip", get, as: Xunfang_Community_V1_TipResponse.self).tip
        #expect(unchanged.status == .verified && unchanged.incidentID.isEmpty && unchanged.history.count == 3)

        let intake = IntakeDesk()
        let dispatch = try await intake.client(stack)
        let forwarded = try await update(tip.id, .forwarded, typeCode: "theft")
        #expect(forwarded.status == .forwarded && forwarded.incidentID == "INC-000001" && forwarded.typeCode == "theft")
        #expect(forwarded.history.map(\.status) == [.submitted, .verifying, .verified, .forwarded])
        #expect(forwarded.history.dropFirst().allSatisfy { $0.by == "王芳" && !$0.why.isEmpty })
        let sent = intake.asked.withLock { $0 }
        #expect(sent.count == 1 && sent[0].externalID == tip.id && sent[0].source == .tip && sent[0].report.contains(tip.text))
        await #expect(throws: BusClientError.self) { try await update(tip.id, .dismissed) }
        #expect(try await update(trusted.id, .dismissed).status == .dismissed)

        // The tipster follows their own tips.
        var mine = Xunfang_Community_V1_ListTipsRequest()
        mine.memberID = "M-2"
        #expect(try await desk.call(service + "ListTips", mine, as: Xunfang_Community_V1_ListTipsResponse.self).tips.map(\.status) == [.forwarded])

        // The public sees neither text nor reporter, and the place only to its cell.
        let other = try await submit("M-3", text: "路口有人打架", longitude: 104.2872)
        let board = try await desk.call(service + "PublicTips", Xunfang_Community_V1_PublicTipsRequest(), as: Xunfang_Community_V1_PublicTipsResponse.self)
        #expect(board.precisionMetres == 500 && board.tips.map(\.id) == [other.id, trusted.id, tip.id])
        #expect(Set(board.tips.map(\.longitude)).count == 1 && board.tips[0].longitude != other.longitude)
        let serialized = try board.jsonString()
        #expect(!serialized.contains("打架") && !serialized.contains("M-3"))

        // Bad input: each refused, nothing stored.
        await #expect(throws: BusClientError.self) { try await submit("M-404") }
        await #expect(throws: BusClientError.self) { try await submit("M-1", text: "") }
        await #expect(throws: BusClientError.self) { try await submit("M-1", longitude: 400) }
        var all = Xunfang_Community_V1_ListTipsRequest()
        all.limit = 500
        #expect(try await desk.call(service + "ListTips", all, as: Xunfang_Community_V1_ListTipsResponse.self).tips.count == 3)
        all.limit = 501
        await #expect(throws: BusClientError.self) { try await desk.call(service + "ListTips", all, as: Xunfang_Community_V1_ListTipsResponse.self) }

        // Every read of whole tips is audited: who, whose tip, which.
        var audit = Xunfang_Community_V1_AuditRequest()
        audit.limit = 100
        let entries = try await desk.call(service + "Audit", audit, as: Xunfang_Community_V1_AuditResponse.self).entries
        #expect(entries.filter { $0.action == "read-tip" }.map { "\($0.who) \($0.memberID) \($0.purpose)" } == ["desk M-2 \(tip.id)"])
        #expect(entries.filter { $0.action == "list-tips" }.map { "\($0.memberID) \($0.purpose)" } == [" 3 tips", "M-2 1 tips"], "newest first; a refused listing read nothing")

        plugin.task.cancel()
        await plugin.client.close()
        await dispatch.close()
        await desk.close()
        await stack.server.stop()
    }
}
